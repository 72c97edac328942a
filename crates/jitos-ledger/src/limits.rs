//! Named limits on everything the ledger accepts, stores or reads back.

/// Most records one `append_batch` call may carry; bounds the size of one synced write.
pub const BATCH_RECORDS_MAX: usize = 4096;

/// Most payload bytes one `append_batch` call may carry in total.
pub const BATCH_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Largest payload of a single record.
pub const PAYLOAD_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Longest record kind, in bytes. Kinds are short tags such as `warp.rewrite`.
pub const KIND_BYTES_MAX: usize = 64;

/// Longest name in an `Actor::Named`, in bytes.
pub const ACTOR_NAME_BYTES_MAX: usize = 128;

/// Room for the fixed-size fields of an encoded record (seq, hashes, time, tags, lengths).
const RECORD_FIXED_BYTES_MAX: usize = 256;

/// Largest encoded record; decoding refuses anything claiming more, so a corrupt length
/// prefix on disk or in a bundle cannot make the reader allocate without bound.
pub const RECORD_BYTES_MAX: usize =
    PAYLOAD_BYTES_MAX + KIND_BYTES_MAX + ACTOR_NAME_BYTES_MAX + RECORD_FIXED_BYTES_MAX;

/// Largest uncompressed snapshot state.
pub const SNAPSHOT_STATE_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// How many snapshots are kept: `put_snapshot` deletes older ones beyond this count.
pub const SNAPSHOTS_KEPT_MAX: usize = 3;

/// Largest blob `put_blob` accepts.
pub const BLOB_BYTES_MAX: usize = 64 * 1024 * 1024;

/// `verify` reports progress once every this many records.
pub const VERIFY_PROGRESS_RECORDS: u64 = 10_000;

/// Most records one bundle may hold.
pub const BUNDLE_RECORDS_MAX: u64 = 1 << 32;

/// Records written per (unsynced) batch while importing a bundle into a staging store;
/// one synced write at the end makes them all durable.
pub(crate) const IMPORT_BATCH_RECORDS: usize = 1024;

/// Bytes per import batch, so a bundle of large records is not held in memory at once.
pub(crate) const IMPORT_BATCH_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Read-ahead for sequential scans (verify, export), so they do not pay one disk seek per block.
pub(crate) const SCAN_READAHEAD_BYTES: usize = 2 * 1024 * 1024;
