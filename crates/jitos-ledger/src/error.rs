//! Typed errors, one enum per operation family, with messages a person can act on.

use std::io;
use std::path::PathBuf;

use crate::hash::Hash;

/// A failure of the underlying RocksDB store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB reported an error.
    #[error("RocksDB could not {op} in {}: {source}", .dir.display())]
    Rocks {
        /// What the ledger was doing.
        op: &'static str,
        /// The store's directory.
        dir: PathBuf,
        /// RocksDB's own error.
        #[source]
        source: rocksdb::Error,
    },
    /// A column family the ledger needs is absent.
    #[error(
        "the store in {} has no column family {name:?}: it is damaged or not a jitos ledger",
        .dir.display()
    )]
    MissingColumnFamily {
        /// The store's directory.
        dir: PathBuf,
        /// The missing column family.
        name: &'static str,
    },
}

/// Why a store could not be created or opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// There is no store in the directory.
    #[error(
        "no ledger store in {}: create one first, or check the data directory path",
        .dir.display()
    )]
    NotFound {
        /// The directory looked in.
        dir: PathBuf,
    },
    /// `create` was pointed at a directory that already holds a store.
    #[error(
        "{} already holds a ledger store: open it instead, or create in an empty directory",
        .dir.display()
    )]
    AlreadyExists {
        /// The directory.
        dir: PathBuf,
    },
    /// `create` was pointed at a directory holding other files.
    #[error(
        "{} is not empty and holds no ledger store: create the ledger in an empty or missing directory",
        .dir.display()
    )]
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// Another writer holds the store's lock.
    #[error(
        "the ledger store in {} is locked by another writer (is another jitosd using this data \
         directory?): stop it, or open the store read-only",
        .dir.display()
    )]
    Locked {
        /// The directory.
        dir: PathBuf,
    },
    /// The store was written by a newer jitos.
    #[error(
        "the ledger store in {} has format version {found}, but this jitos supports up to \
         {supported}: upgrade jitos to open it",
        .dir.display()
    )]
    FutureFormat {
        /// The directory.
        dir: PathBuf,
        /// The store's format version.
        found: u32,
        /// The newest version this build opens (`FORMAT_VERSION`).
        supported: u32,
    },
    /// The directory holds a RocksDB store that is not a (complete) jitos ledger.
    #[error("{} is not a usable jitos ledger store: {reason}", .dir.display())]
    NotALedger {
        /// The directory.
        dir: PathBuf,
        /// What is missing.
        reason: String,
    },
    /// The store's genesis or head record is damaged.
    #[error(
        "the ledger store in {} is corrupt: {reason}; open it read-only and verify it to see the \
         damage, then restore it from a bundle or backup",
        .dir.display()
    )]
    Corrupt {
        /// The directory.
        dir: PathBuf,
        /// What is damaged.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("could not {op} {}: {source}", .path.display())]
    Io {
        /// What the ledger was doing.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The genesis record could not be encoded.
    #[error("could not encode the genesis record: {source}")]
    Encode {
        /// The encoder's error.
        #[source]
        source: crate::codec::CodecError,
    },
    /// RocksDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an append (records, snapshot or blob) was refused; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// The ledger was opened read-only.
    #[error("the ledger in {} is open read-only: reopen it writable to append", .dir.display())]
    ReadOnly {
        /// The store's directory.
        dir: PathBuf,
    },
    /// Too many records in one batch.
    #[error("a batch of {records} records exceeds BATCH_RECORDS_MAX ({max}): split it")]
    BatchTooLarge {
        /// Records in the batch.
        records: usize,
        /// The limit.
        max: usize,
    },
    /// An index entry over the index's bounds.
    #[error(
        "the index entry of record {seq} has a {key_bytes}-byte key and a {value_bytes}-byte \
         value, over INDEX_KEY_BYTES_MAX or INDEX_VALUE_BYTES_MAX"
    )]
    IndexEntryTooLarge {
        /// The record it indexes.
        seq: u64,
        /// Its key's length.
        key_bytes: usize,
        /// Its value's length.
        value_bytes: usize,
    },
    /// An index entry for a record beyond the batch it came with.
    #[error("an index entry names record {seq}, beyond the batch's last record {last}")]
    IndexEntryBeyond {
        /// The seq it names.
        seq: u64,
        /// The batch's last seq.
        last: u64,
    },
    /// Index entries marked complete past the head.
    #[error("cannot mark the index complete through seq {through}: the head is {head}")]
    IndexBeyondHead {
        /// What was asked.
        through: u64,
        /// The head.
        head: u64,
    },
    /// Too many payload bytes in one batch.
    #[error("a batch of {bytes} payload bytes exceeds BATCH_BYTES_MAX ({max}): split it")]
    BatchBytesTooLarge {
        /// Payload bytes in the batch.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A record's kind is not acceptable.
    #[error("record {index} of the batch: kind {kind:?} {reason}")]
    KindInvalid {
        /// Position of the record in its batch.
        index: usize,
        /// The kind (cut to `KIND_BYTES_MAX` characters).
        kind: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A record's actor name is too long.
    #[error(
        "record {index} of the batch: actor name of {bytes} bytes exceeds ACTOR_NAME_BYTES_MAX ({max})"
    )]
    ActorNameTooLong {
        /// Position of the record in its batch.
        index: usize,
        /// Length of the name.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A record's payload is too large.
    #[error(
        "record {index} of the batch: payload of {bytes} bytes exceeds PAYLOAD_BYTES_MAX ({max}): \
         store large data as a blob and record its hash"
    )]
    PayloadTooLarge {
        /// Position of the record in its batch.
        index: usize,
        /// Length of the payload.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// No sequence numbers are left.
    #[error("the ledger's sequence numbers are exhausted at {head}")]
    SeqExhausted {
        /// The head's seq.
        head: u64,
    },
    /// A record could not be encoded.
    #[error("could not encode record {seq}: {source}")]
    Encode {
        /// The record's seq.
        seq: u64,
        /// The encoder's error.
        #[source]
        source: crate::codec::CodecError,
    },
    /// A snapshot was offered for a seq the ledger has not reached.
    #[error(
        "snapshot at seq {seq} is beyond the head ({head}): only states the ledger has reached \
         can be snapshotted"
    )]
    SnapshotBeyondHead {
        /// The snapshot's seq.
        seq: u64,
        /// The head's seq.
        head: u64,
    },
    /// A snapshot's state is too large.
    #[error("snapshot state of {bytes} bytes exceeds SNAPSHOT_STATE_BYTES_MAX ({max})")]
    SnapshotTooLarge {
        /// Length of the state.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A snapshot older than every kept one would be deleted at once by retention.
    #[error(
        "snapshot at seq {seq} is older than the {kept} newest already kept (oldest kept: \
         {oldest_kept}), so retention would delete it at once: snapshot a newer state"
    )]
    SnapshotTooOld {
        /// The snapshot's seq.
        seq: u64,
        /// How many snapshots are kept (`SNAPSHOTS_KEPT_MAX`).
        kept: usize,
        /// The oldest kept snapshot's seq.
        oldest_kept: u64,
    },
    /// A blob is too large.
    #[error("blob of {bytes} bytes exceeds BLOB_BYTES_MAX ({max})")]
    BlobTooLarge {
        /// Length of the blob.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// RocksDB failed; nothing was acknowledged.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading what the append depends on failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// RocksDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored record does not decode, sits under the wrong key, or its hash does not recompute.
    #[error(
        "record {seq} is corrupt: {reason}; verify the ledger to see the extent of the damage"
    )]
    CorruptRecord {
        /// The record's seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// A record below the head is absent.
    #[error(
        "record {seq} is missing from the chain: the store has a hole; verify the ledger to see \
         the extent of the damage"
    )]
    MissingRecord {
        /// The missing seq.
        seq: u64,
    },
    /// A blob's bytes no longer hash to its address.
    #[error(
        "blob {hash} is corrupt: its bytes no longer hash to its address; put the original bytes \
         again to repair it"
    )]
    CorruptBlob {
        /// The blob's address.
        hash: Hash,
    },
    /// A key has the wrong length for its column family.
    #[error("a key in column family {cf:?} is {len} bytes long, which no ledger writes: the store is damaged")]
    MalformedKey {
        /// The column family.
        cf: &'static str,
        /// The key's length.
        len: usize,
    },
}

/// Why a snapshot could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No snapshot is stored at that seq.
    #[error("no snapshot at seq {seq}: list the kept ones with `snapshots`")]
    NotFound {
        /// The seq asked for.
        seq: u64,
    },
    /// The snapshot fails its integrity check.
    #[error(
        "snapshot at seq {seq} is corrupt: {reason}; recover from an older snapshot or replay from \
         genesis"
    )]
    Corrupt {
        /// The snapshot's seq.
        seq: u64,
        /// What is wrong.
        reason: String,
    },
    /// RocksDB failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a bundle could not be exported, read or imported. A failed import leaves nothing behind.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A file-system operation failed.
    #[error("could not {op} {}: {source}", .path.display())]
    Io {
        /// What the ledger was doing.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with the bundle magic.
    #[error("{} is not a jitos bundle: it does not start with \"JITOSBDL\"", .path.display())]
    BadMagic {
        /// The file.
        path: PathBuf,
    },
    /// The bundle was written by a newer jitos.
    #[error(
        "{} has bundle format version {found}, but this jitos reads up to {supported}: upgrade jitos",
        .path.display()
    )]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The bundle's version.
        found: u32,
        /// The newest version this build reads.
        supported: u32,
    },
    /// The file ends early.
    #[error("{} is truncated: it ends inside the {part}; copy it again", .path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Which part was being read.
        part: String,
    },
    /// The file is complete but fails verification.
    #[error("{} is corrupt or tampered with: {reason}", .path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The bundle's genesis names a newer ledger format.
    #[error(
        "{} holds a ledger of format version {found}, but this jitos supports up to {supported}: \
         upgrade jitos",
        .path.display()
    )]
    FutureFormat {
        /// The file.
        path: PathBuf,
        /// The ledger format in the bundle's genesis.
        found: u32,
        /// `FORMAT_VERSION`.
        supported: u32,
    },
    /// The export range is not inside the ledger.
    #[error("cannot export records {from}..={to}: the ledger's head is {head}")]
    RangeOutOfBounds {
        /// First seq asked for.
        from: u64,
        /// Last seq asked for.
        to: u64,
        /// The head's seq.
        head: u64,
    },
    /// Only a bundle that starts at genesis can seed a new store.
    #[error(
        "{} starts at seq {from}: only a bundle starting at genesis (seq 0) can be imported into \
         a new store; export from seq 0",
        .path.display()
    )]
    NotFromGenesis {
        /// The file.
        path: PathBuf,
        /// Its first seq.
        from: u64,
    },
    /// The import target is not usable.
    #[error("cannot import into {}: {reason}", .dir.display())]
    BadTarget {
        /// The target directory.
        dir: PathBuf,
        /// Why it cannot be used.
        reason: &'static str,
    },
    /// The caller refused a record of the bundle (it does not fold), or could not say which
    /// blobs it names.
    #[error("{}: record {seq} cannot be taken in: {reason}", .path.display())]
    Refused {
        /// The bundle.
        path: PathBuf,
        /// The record's seq.
        seq: u64,
        /// The caller's reason (in the message, not a separate source, so it is printed
        /// once).
        reason: crate::bundle::BoxError,
    },
    /// A record could not be encoded.
    #[error("could not encode record {seq} for the bundle: {source}")]
    Encode {
        /// The record's seq.
        seq: u64,
        /// The encoder's error.
        #[source]
        source: crate::codec::CodecError,
    },
    /// Reading the source ledger failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// Opening the imported store failed.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// RocksDB failed while building the imported store.
    #[error(transparent)]
    Store(#[from] StoreError),
}
