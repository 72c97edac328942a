//! The `Ledger`: creating and opening a store, appending record batches, reading records.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rocksdb::WriteBatch;

use crate::blob::blob_hash;
use crate::clock::Clock;
use crate::error::{AppendError, OpenError, ReadError};
use crate::genesis::{Genesis, FORMAT_VERSION, GENESIS_KIND};
use crate::hash::Hash;
use crate::index::{self, IndexEntry, META_INDEX_THROUGH};
use crate::limits::{BATCH_BYTES_MAX, BATCH_RECORDS_MAX, BLOB_BYTES_MAX};
use crate::range::RecordRange;
use crate::record::{Actor, Head, NewRecord, Record};
use crate::staging::sync_parent;
use crate::store::{key_seq, seq_key, Access, Meta, Store, CF_BLOBS, CF_META, CF_RECORDS};

/// How to create a new store.
#[derive(Clone)]
pub struct CreateOptions {
    /// Identifies the store; chosen by the caller (random, or derived from the host).
    pub store_id: [u8; 16],
    /// Source of recorded time.
    pub clock: Arc<dyn Clock>,
}

/// How to open an existing store.
#[derive(Clone)]
pub struct OpenOptions {
    /// Open for inspection only: takes no lock and refuses every write.
    pub read_only: bool,
    /// Source of recorded time.
    pub clock: Arc<dyn Clock>,
}

/// A durable, hash-chained, append-only log of records, with snapshots and blobs beside it.
///
/// Every write is synced to disk before it returns `Ok`.
pub struct Ledger {
    pub(crate) store: Store,
    pub(crate) genesis: Genesis,
    pub(crate) head: Head,
    pub(crate) read_only: bool,
    /// The seq through which records are indexed (see `index.rs`); `None` without an
    /// index column family.
    pub(crate) indexed_through: Option<u64>,
    /// The layout its user named for the index (see `index.rs`).
    pub(crate) index_layout: u32,
    clock: Arc<dyn Clock>,
}

impl Ledger {
    /// Creates a store in `dir` (missing or empty) holding only the genesis record.
    pub fn create(dir: &Path, opts: CreateOptions) -> Result<Ledger, OpenError> {
        if Self::exists(dir) {
            return Err(OpenError::AlreadyExists {
                dir: dir.to_path_buf(),
            });
        }
        if !dir_is_empty_or_missing(dir).map_err(io_error("read directory", dir))? {
            return Err(OpenError::NotEmpty {
                dir: dir.to_path_buf(),
            });
        }
        fs::create_dir_all(dir).map_err(io_error("create directory", dir))?;
        let store = Store::open(dir, Access::Create)?;
        let genesis = Genesis {
            store_id: opts.store_id,
            format_version: FORMAT_VERSION,
            created_ms: opts.clock.now_ms(),
        };
        let record = genesis_record(&genesis);
        let encoded = record
            .encode()
            .map_err(|source| OpenError::Encode { source })?;
        // Genesis and meta land in one synced batch, so a crash leaves either a whole store
        // or one that `open` reports as never finished.
        let mut batch = WriteBatch::default();
        batch.put_cf(store.cf(CF_RECORDS)?, seq_key(0), encoded);
        store.put_meta(&mut batch, &genesis.store_id)?;
        batch.put_cf(store.cf(CF_META)?, META_INDEX_THROUGH, 0u64.to_le_bytes());
        store.write_synced(batch, "write the genesis record")?;
        // RocksDB syncs the files inside `dir`; the entry for `dir` itself lives in its parent.
        sync_parent(dir).map_err(io_error("sync the parent directory of", dir))?;
        Ok(Ledger {
            store,
            genesis,
            head: Head {
                seq: 0,
                hash: record.hash,
            },
            read_only: false,
            indexed_through: Some(0),
            index_layout: 0,
            clock: opts.clock,
        })
    }

    /// Opens the store in `dir`. Checks the format version first, then that the genesis and
    /// head records are intact; it does not walk the chain (see `verify`).
    ///
    /// A read-only open is for inspecting damage, so it tolerates a damaged genesis or head
    /// record: the genesis falls back to what `meta` says, and the head keeps its seq with
    /// an all-zero hash, since no trustworthy hash exists; `verify` names the damage.
    pub fn open(dir: &Path, opts: OpenOptions) -> Result<Ledger, OpenError> {
        if !Self::exists(dir) {
            return Err(OpenError::NotFound {
                dir: dir.to_path_buf(),
            });
        }
        // A read-only probe checks the version before a writable open could touch the files
        // of a store written by a newer jitos.
        let probe = Store::open(dir, Access::Read)?;
        let meta = probe.read_meta()?;
        let store = if opts.read_only {
            probe
        } else {
            drop(probe);
            Store::open(dir, Access::Write)?
        };
        store.require_column_families()?;
        let genesis = match load_genesis(&store, &meta) {
            Err(OpenError::Corrupt { .. }) if opts.read_only => meta.genesis(),
            loaded => loaded?,
        };
        let head = match load_head(&store) {
            Err(OpenError::Corrupt { .. }) if opts.read_only => damaged_head(&store)?,
            loaded => loaded?,
        };
        let mut ledger = Ledger {
            store,
            genesis,
            head,
            read_only: opts.read_only,
            indexed_through: None,
            index_layout: 0,
            clock: opts.clock,
        };
        ledger.indexed_through = crate::index::read_through(&ledger)?;
        ledger.index_layout = crate::index::read_layout(&ledger)?;
        Ok(ledger)
    }

    /// Whether `dir` holds a store (a RocksDB `CURRENT` file).
    pub fn exists(dir: &Path) -> bool {
        dir.join("CURRENT").is_file()
    }

    /// The store's directory.
    pub fn dir(&self) -> &Path {
        &self.store.dir
    }

    /// The payload of the genesis record.
    pub fn genesis(&self) -> &Genesis {
        &self.genesis
    }

    /// The newest record's seq and hash.
    pub fn head(&self) -> Head {
        self.head
    }

    /// A read-only handle on the same store that sees the chain up to `head`: for
    /// readers on other threads while this ledger goes on appending (records at or below
    /// a head the writer published never change).
    pub fn reader_at(&self, head: Head) -> Ledger {
        Ledger {
            store: self.store.clone(),
            genesis: self.genesis,
            head,
            read_only: true,
            indexed_through: self.indexed_through,
            index_layout: self.index_layout,
            clock: self.clock.clone(),
        }
    }

    /// Appends `batch` after the head, all or nothing, and returns the sealed records once
    /// they are synced to disk. All records of a batch carry one clock reading. On error
    /// nothing is written and the head is unchanged.
    pub fn append_batch(&mut self, batch: Vec<NewRecord>) -> Result<Vec<Record>, AppendError> {
        self.append_with_blobs(batch, &[])
            .map(|(records, _)| records)
    }

    /// [`Ledger::append_batch`], storing `blobs` in the same synced write, so records
    /// naming them and the blobs are durable together; returns the records and the blobs'
    /// hashes, in order.
    pub fn append_with_blobs(
        &mut self,
        batch: Vec<NewRecord>,
        blobs: &[&[u8]],
    ) -> Result<(Vec<Record>, Vec<Hash>), AppendError> {
        self.append_indexed(batch, blobs, None)
    }

    /// [`Ledger::append_with_blobs`], writing `index` entries for the new records in the
    /// same synced write. The index stays complete only if it was complete before and the
    /// caller indexes every append; with `None` it is left behind (see [`Ledger::indexed`]).
    pub fn append_indexed(
        &mut self,
        batch: Vec<NewRecord>,
        blobs: &[&[u8]],
        index: Option<&[IndexEntry]>,
    ) -> Result<(Vec<Record>, Vec<Hash>), AppendError> {
        self.check_writable()?;
        if batch.is_empty() && blobs.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        if batch.len() > BATCH_RECORDS_MAX {
            return Err(AppendError::BatchTooLarge {
                records: batch.len(),
                max: BATCH_RECORDS_MAX,
            });
        }
        let mut batch_bytes = 0usize;
        for (index, new) in batch.iter().enumerate() {
            new.check(index)?;
            batch_bytes = batch_bytes.saturating_add(new.payload.len());
        }
        for bytes in blobs {
            if bytes.len() > BLOB_BYTES_MAX {
                return Err(AppendError::BlobTooLarge {
                    bytes: bytes.len(),
                    max: BLOB_BYTES_MAX,
                });
            }
            batch_bytes = batch_bytes.saturating_add(bytes.len());
        }
        if batch_bytes > BATCH_BYTES_MAX {
            return Err(AppendError::BatchBytesTooLarge {
                bytes: batch_bytes,
                max: BATCH_BYTES_MAX,
            });
        }
        let mut write = WriteBatch::default();
        let blobs_cf = self.store.cf(CF_BLOBS)?;
        let hashes: Vec<Hash> = blobs
            .iter()
            .map(|bytes| {
                let hash = blob_hash(bytes);
                write.put_cf(blobs_cf, hash.0, bytes);
                hash
            })
            .collect();
        let records_cf = self.store.cf(CF_RECORDS)?;
        let time_ms = self.clock.now_ms();
        let mut head = self.head;
        let mut sealed = Vec::with_capacity(batch.len());
        let mut encoded = Vec::new();
        for new in batch {
            let seq = head
                .seq
                .checked_add(1)
                .ok_or(AppendError::SeqExhausted { head: head.seq })?;
            let record = Record::seal(seq, head.hash, new, time_ms);
            record
                .encode_into(&mut encoded)
                .map_err(|source| AppendError::Encode { seq, source })?;
            write.put_cf(records_cf, seq_key(seq), &encoded);
            head = Head {
                seq,
                hash: record.hash,
            };
            sealed.push(record);
        }
        // Entries of a store whose index is behind would leave it claiming records it
        // lacks; they are dropped, and the builder of the missing part writes them.
        let index = index.filter(|_| self.indexed());
        if let Some(entries) = index {
            for entry in entries {
                index::check(entry)?;
                if entry.seq > head.seq {
                    return Err(AppendError::IndexEntryBeyond {
                        seq: entry.seq,
                        last: head.seq,
                    });
                }
            }
            index::put(self, &mut write, entries, head.seq)?;
        }
        self.store.write_synced(write, "append records")?;
        self.head = head;
        if index.is_some() {
            self.indexed_through = Some(head.seq);
        }
        Ok((sealed, hashes))
    }

    /// The record at `seq`, or `None` beyond the head.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, ReadError> {
        if seq > self.head.seq {
            return Ok(None);
        }
        let value = self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_RECORDS)?, seq_key(seq))
            .map_err(self.store.err("read a record"))?
            .ok_or(ReadError::MissingRecord { seq })?;
        Record::decode_checked(seq, &value)
            .map(Some)
            .map_err(|reason| ReadError::CorruptRecord { seq, reason })
    }

    /// The records from `from` to `to_inclusive`, cut at the head, in order. Each is checked
    /// as it is read; a hole or a corrupt record ends the iteration with an error.
    pub fn range(
        &self,
        from: u64,
        to_inclusive: u64,
    ) -> impl Iterator<Item = Result<Record, ReadError>> + '_ {
        RecordRange::new(&self.store, from, to_inclusive.min(self.head.seq))
    }

    pub(crate) fn check_writable(&self) -> Result<(), AppendError> {
        if self.read_only {
            return Err(AppendError::ReadOnly {
                dir: self.store.dir.clone(),
            });
        }
        Ok(())
    }
}

/// The genesis record of a store.
fn genesis_record(genesis: &Genesis) -> Record {
    let new = NewRecord {
        kind: GENESIS_KIND.to_owned(),
        actor: Actor::System,
        payload: genesis.encode(),
    };
    Record::seal(0, Hash::ZERO, new, genesis.created_ms)
}

/// Checks that a decoded record 0 is a genesis record, and returns its payload.
pub(crate) fn check_genesis_record(record: &Record) -> Result<Genesis, String> {
    if record.kind != GENESIS_KIND {
        return Err(format!(
            "record 0 has kind {:?}, not {GENESIS_KIND:?}",
            record.kind
        ));
    }
    if record.parent != Hash::ZERO {
        return Err("record 0 has a non-zero parent".to_owned());
    }
    Genesis::decode(&record.payload)
}

fn load_genesis(store: &Store, meta: &Meta) -> Result<Genesis, OpenError> {
    let corrupt = |reason: String| OpenError::Corrupt {
        dir: store.dir.clone(),
        reason,
    };
    let value = store
        .db
        .get_pinned_cf(store.cf(CF_RECORDS)?, seq_key(0))
        .map_err(store.err("read the genesis record"))?
        .ok_or_else(|| corrupt("the genesis record (seq 0) is missing".to_owned()))?;
    let record = Record::decode_checked(0, &value)
        .map_err(|reason| corrupt(format!("genesis record: {reason}")))?;
    let genesis = check_genesis_record(&record).map_err(corrupt)?;
    if genesis.store_id != meta.store_id {
        return Err(corrupt(
            "the genesis record names a different store id than `meta`".to_owned(),
        ));
    }
    if genesis.format_version > meta.format_version {
        return Err(corrupt(format!(
            "genesis says format {} but `meta` says {}",
            genesis.format_version, meta.format_version
        )));
    }
    Ok(genesis)
}

fn load_head(store: &Store) -> Result<Head, OpenError> {
    let corrupt = |reason: String| OpenError::Corrupt {
        dir: store.dir.clone(),
        reason,
    };
    let mut iter = store.db.raw_iterator_cf(store.cf(CF_RECORDS)?);
    iter.seek_to_last();
    iter.status().map_err(store.err("find the head record"))?;
    let (key, value) = iter
        .item()
        .ok_or_else(|| corrupt("it holds no records".to_owned()))?;
    let seq = key_seq(CF_RECORDS, key).map_err(|error| corrupt(error.to_string()))?;
    let record = Record::decode_checked(seq, value)
        .map_err(|reason| corrupt(format!("head record {seq}: {reason}")))?;
    Ok(Head {
        seq,
        hash: record.hash,
    })
}

/// The head of a store whose newest record fails its check: the seq under which it is
/// stored, and no hash.
fn damaged_head(store: &Store) -> Result<Head, OpenError> {
    let mut iter = store.db.raw_iterator_cf(store.cf(CF_RECORDS)?);
    iter.seek_to_last();
    iter.status().map_err(store.err("find the head record"))?;
    let seq = match iter.key() {
        Some(key) => key_seq(CF_RECORDS, key).map_err(|error| OpenError::Corrupt {
            dir: store.dir.clone(),
            reason: error.to_string(),
        })?,
        None => 0,
    };
    Ok(Head {
        seq,
        hash: Hash::ZERO,
    })
}

pub(crate) fn dir_is_empty_or_missing(dir: &Path) -> io::Result<bool> {
    match fs::read_dir(dir) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(error) => Err(error),
    }
}

pub(crate) fn io_error(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> OpenError {
    let path: PathBuf = path.to_path_buf();
    move |source| OpenError::Io { op, path, source }
}
