//! The RocksDB layer: column families, key layout, options, opening, and error mapping.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use rocksdb::{
    ColumnFamily, ColumnFamilyDescriptor, DBCompressionType, DBRecoveryMode, Options, WriteBatch,
    WriteOptions, DB,
};

use crate::error::{OpenError, ReadError, StoreError};
use crate::genesis::{Genesis, FORMAT_VERSION};

/// Records, keyed by seq as big-endian u64 so key order is chain order.
pub(crate) const CF_RECORDS: &str = "records";
/// Blobs, keyed by their 32-byte BLAKE3 hash.
pub(crate) const CF_BLOBS: &str = "blobs";
/// Snapshots, keyed by seq as big-endian u64.
pub(crate) const CF_SNAPSHOTS: &str = "snapshots";
/// Store-wide facts: format version, store id.
pub(crate) const CF_META: &str = "meta";
/// Index entries (see `index.rs`): added to a store written before it at its first
/// writable open.
pub(crate) const CF_INDEX: &str = "index";
/// Every column family a ledger store has.
const COLUMN_FAMILIES: [&str; 5] = [CF_RECORDS, CF_BLOBS, CF_SNAPSHOTS, CF_META, CF_INDEX];
/// Those a store written before the index must have.
const COLUMN_FAMILIES_REQUIRED: [&str; 4] = [CF_RECORDS, CF_BLOBS, CF_SNAPSHOTS, CF_META];

/// `meta` key of the format version (u32 little-endian).
pub(crate) const META_FORMAT_VERSION: &[u8] = b"format_version";
/// `meta` key of the store id (16 bytes).
pub(crate) const META_STORE_ID: &[u8] = b"store_id";

/// Memtable size per column family: records are small and synced one batch at a time, so a
/// modest buffer keeps memory low without forcing frequent flushes.
const WRITE_BUFFER_BYTES: usize = 16 * 1024 * 1024;
/// Total WAL size before RocksDB flushes column families, bounding recovery time on open.
const WAL_TOTAL_BYTES_MAX: u64 = 64 * 1024 * 1024;
/// RocksDB's own info LOG files: how many to keep and how large each may grow.
const INFO_LOG_FILES_KEPT: usize = 4;
const INFO_LOG_FILE_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Background flush and compaction threads: the machine is small and shared.
const BACKGROUND_JOBS_MAX: i32 = 2;

/// The options the ledger opens RocksDB with (database-wide and for each column family).
/// Public so benchmarks can measure a raw RocksDB baseline configured the same way.
pub fn rocksdb_options() -> Options {
    let mut options = Options::default();
    // Writes go straight to the WAL file, so a synced write's fsync covers them.
    options.set_manual_wal_flush(false);
    // A torn tail of the WAL (a crash mid-write) is cut at the last whole write; nothing
    // acknowledged can be in a torn tail, because it was synced before `Ok`.
    options.set_wal_recovery_mode(DBRecoveryMode::PointInTime);
    options.set_max_total_wal_size(WAL_TOTAL_BYTES_MAX);
    options.set_write_buffer_size(WRITE_BUFFER_BYTES);
    // Payloads are mostly hashes and small encodings; snapshots are compressed by the ledger.
    options.set_compression_type(DBCompressionType::None);
    options.set_keep_log_file_num(INFO_LOG_FILES_KEPT);
    options.set_max_log_file_size(INFO_LOG_FILE_BYTES_MAX);
    options.set_max_background_jobs(BACKGROUND_JOBS_MAX);
    options
}

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Create the store and its column families (the directory must hold no store).
    Create,
    /// Open for writing; takes RocksDB's LOCK file.
    Write,
    /// Open read-only, for inspection; takes no lock.
    Read,
}

/// An open RocksDB store and the directory it lives in. Cloning shares the database: the
/// ledger's readers on other threads use clones while its one writer appends.
#[derive(Clone)]
pub(crate) struct Store {
    pub(crate) db: Arc<DB>,
    pub(crate) dir: PathBuf,
}

impl Store {
    /// Opens (or creates) the store in `dir` with every column family it has.
    pub(crate) fn open(dir: &Path, access: Access) -> Result<Store, OpenError> {
        let mut options = rocksdb_options();
        let names: Vec<String> = if access == Access::Create {
            options.create_if_missing(true);
            options.create_missing_column_families(true);
            COLUMN_FAMILIES
                .iter()
                .map(|name| (*name).to_owned())
                .collect()
        } else {
            // Open every column family present: RocksDB refuses an open that leaves one out.
            let mut names = DB::list_cf(&options, dir)
                .map_err(|source| rocks("list column families", dir, source))?;
            if access == Access::Write && !names.iter().any(|name| name == CF_INDEX) {
                options.create_missing_column_families(true);
                names.push(CF_INDEX.to_owned());
            }
            names
        };
        let descriptors = names
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(name, rocksdb_options()));
        let opened = match access {
            Access::Read => DB::open_cf_descriptors_read_only(&options, dir, descriptors, false),
            Access::Create | Access::Write => DB::open_cf_descriptors(&options, dir, descriptors),
        };
        let db = opened.map_err(|source| {
            if is_lock_held(&source) {
                OpenError::Locked {
                    dir: dir.to_path_buf(),
                }
            } else {
                rocks("open the store", dir, source).into()
            }
        })?;
        Ok(Store {
            db: Arc::new(db),
            dir: dir.to_path_buf(),
        })
    }

    /// The handle of a column family.
    pub(crate) fn cf(&self, name: &'static str) -> Result<&ColumnFamily, StoreError> {
        self.db
            .cf_handle(name)
            .ok_or_else(|| StoreError::MissingColumnFamily {
                dir: self.dir.clone(),
                name,
            })
    }

    /// Checks that every column family a ledger needs is present.
    pub(crate) fn require_column_families(&self) -> Result<(), StoreError> {
        COLUMN_FAMILIES_REQUIRED
            .iter()
            .try_for_each(|name| self.cf(name).map(|_| ()))
    }

    /// Maps a RocksDB error to a `StoreError` naming this store and the operation.
    pub(crate) fn err(&self, op: &'static str) -> impl FnOnce(rocksdb::Error) -> StoreError + '_ {
        move |source| rocks(op, &self.dir, source)
    }

    /// Writes a batch and fsyncs the WAL before returning: the only way anything is acknowledged.
    pub(crate) fn write_synced(
        &self,
        batch: WriteBatch,
        op: &'static str,
    ) -> Result<(), StoreError> {
        let mut options = WriteOptions::default();
        options.set_sync(true);
        self.db.write_opt(batch, &options).map_err(self.err(op))
    }

    /// Reads the format version and store id from `meta`, refusing stores this build cannot
    /// read. Checked before anything else so a newer store is never misread.
    pub(crate) fn read_meta(&self) -> Result<Meta, OpenError> {
        let not_a_ledger = |reason: &str| OpenError::NotALedger {
            dir: self.dir.clone(),
            reason: reason.to_owned(),
        };
        let meta = self
            .db
            .cf_handle(CF_META)
            .ok_or_else(|| not_a_ledger("it has no `meta` column family"))?;
        let version = self
            .db
            .get_cf(meta, META_FORMAT_VERSION)
            .map_err(self.err("read the format version"))?
            .ok_or_else(|| {
                not_a_ledger("`meta` holds no format version (was its creation interrupted?)")
            })?;
        let format_version = <[u8; 4]>::try_from(version.as_slice())
            .map(u32::from_le_bytes)
            .map_err(|_| not_a_ledger("the format version in `meta` is not 4 bytes"))?;
        if format_version > FORMAT_VERSION {
            return Err(OpenError::FutureFormat {
                dir: self.dir.clone(),
                found: format_version,
                supported: FORMAT_VERSION,
            });
        }
        if format_version == 0 {
            return Err(not_a_ledger(
                "`meta` says format version 0, which no jitos writes",
            ));
        }
        let store_id = self
            .db
            .get_cf(meta, META_STORE_ID)
            .map_err(self.err("read the store id"))?
            .ok_or_else(|| not_a_ledger("`meta` holds no store id"))?;
        let store_id = <[u8; 16]>::try_from(store_id.as_slice())
            .map_err(|_| not_a_ledger("the store id in `meta` is not 16 bytes"))?;
        Ok(Meta {
            format_version,
            store_id,
        })
    }

    /// Adds the `meta` entries of a new store to `batch`.
    pub(crate) fn put_meta(
        &self,
        batch: &mut WriteBatch,
        store_id: &[u8; 16],
    ) -> Result<(), StoreError> {
        let meta = self.cf(CF_META)?;
        batch.put_cf(meta, META_FORMAT_VERSION, FORMAT_VERSION.to_le_bytes());
        batch.put_cf(meta, META_STORE_ID, store_id);
        Ok(())
    }
}

/// What `meta` says about a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    pub(crate) format_version: u32,
    pub(crate) store_id: [u8; 16],
}

impl Meta {
    /// What `meta` knows of the genesis payload, for inspecting a store whose genesis record
    /// is damaged; the creation time is lost with the record.
    pub(crate) fn genesis(&self) -> Genesis {
        Genesis {
            store_id: self.store_id,
            format_version: self.format_version,
            created_ms: 0,
        }
    }
}

/// The key of a record or snapshot: seq as big-endian u64, so byte order is numeric order.
pub(crate) fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// The seq a key in `cf` stands for.
pub(crate) fn key_seq(cf: &'static str, key: &[u8]) -> Result<u64, ReadError> {
    <[u8; 8]>::try_from(key)
        .map(u64::from_be_bytes)
        .map_err(|_| ReadError::MalformedKey { cf, len: key.len() })
}

fn rocks(op: &'static str, dir: &Path, source: rocksdb::Error) -> StoreError {
    StoreError::Rocks {
        op,
        dir: dir.to_path_buf(),
        source,
    }
}

/// RocksDB reports a held LOCK file as an I/O error; these are its two wordings (another
/// process holds the fcntl lock, or this process already has the store open).
fn is_lock_held(error: &rocksdb::Error) -> bool {
    let message = error.as_ref();
    message.contains("lock hold by current process")
        || (message.contains("While lock file") && message.contains("temporarily unavailable"))
}
