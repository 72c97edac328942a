//! The index: keys its user derives from records (a node, a process), each mapped to the
//! seqs of the records under it, with a small value per entry. Written in the same synced
//! batch as the records it indexes, so it is exactly as durable as they are; a store written
//! before the index existed, or by a writer that did not index, says so (`indexed_through`
//! below its head) and its user builds the missing part once.
//!
//! An entry is written with its batch but may name an earlier record (the kernel files a
//! closed workspace under the record that created it); a reader sees entries up to its
//! head's seq, so it can see such an entry written after its head, and its user orders
//! that against its own state.
//!
//! Layout in the `index` column family: `key bytes (u32 BE length, then the bytes) | seq
//! (u64 BE)` → value, so one key's entries sit together in seq order. `meta` holds
//! `index_through` (u64 LE): every record up to it is indexed.

use rocksdb::{Direction, IteratorMode, ReadOptions, WriteBatch};

use crate::error::{AppendError, ReadError, StoreError};
use crate::ledger::Ledger;
use crate::store::{CF_INDEX, CF_META};

/// `meta` key of the seq through which every record is indexed (u64 little-endian).
pub(crate) const META_INDEX_THROUGH: &[u8] = b"index_through";
/// `meta` key of the layout of the index's keys and values, which its user names (u32
/// little-endian); absent reads as 0.
const META_INDEX_LAYOUT: &[u8] = b"index_layout";

/// Longest key a user may index under, in bytes.
pub const INDEX_KEY_BYTES_MAX: usize = 4096;
/// Largest value of one entry, in bytes.
pub const INDEX_VALUE_BYTES_MAX: usize = 1024 * 1024;

/// One entry: record `seq` is under `key`, with `value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// What the record is indexed under.
    pub key: Vec<u8>,
    /// The record.
    pub seq: u64,
    /// What the user keeps with it (may be empty).
    pub value: Vec<u8>,
}

/// The stored key of `key`'s entries, before the seq.
fn prefix(key: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 + key.len() + 8);
    bytes.extend_from_slice(&(key.len() as u32).to_be_bytes());
    bytes.extend_from_slice(key);
    bytes
}

/// Checks `entry` fits the index's bounds.
pub(crate) fn check(entry: &IndexEntry) -> Result<(), AppendError> {
    if entry.key.len() > INDEX_KEY_BYTES_MAX || entry.value.len() > INDEX_VALUE_BYTES_MAX {
        return Err(AppendError::IndexEntryTooLarge {
            seq: entry.seq,
            key_bytes: entry.key.len(),
            value_bytes: entry.value.len(),
        });
    }
    Ok(())
}

/// Adds `entries` and the new `index_through` to `batch`.
pub(crate) fn put(
    ledger: &Ledger,
    batch: &mut WriteBatch,
    entries: &[IndexEntry],
    through: u64,
) -> Result<(), StoreError> {
    let cf = ledger.store.cf(CF_INDEX)?;
    for entry in entries {
        let mut key = prefix(&entry.key);
        key.extend_from_slice(&entry.seq.to_be_bytes());
        batch.put_cf(cf, key, &entry.value);
    }
    batch.put_cf(
        ledger.store.cf(CF_META)?,
        META_INDEX_THROUGH,
        through.to_le_bytes(),
    );
    Ok(())
}

/// The seq through which the store's records are indexed; `None` for a store without an
/// index column family (one opened read-only that no indexing build has written).
pub(crate) fn read_through(ledger: &Ledger) -> Result<Option<u64>, StoreError> {
    if ledger.store.db.cf_handle(CF_INDEX).is_none() {
        return Ok(None);
    }
    let meta = ledger.store.cf(CF_META)?;
    let through = ledger
        .store
        .db
        .get_cf(meta, META_INDEX_THROUGH)
        .map_err(ledger.store.err("read index_through"))?;
    Ok(Some(match through {
        Some(bytes) => <[u8; 8]>::try_from(bytes.as_slice()).map_or(0, u64::from_le_bytes),
        None => 0,
    }))
}

/// The layout the store's index was written in (0 when none was named).
pub(crate) fn read_layout(ledger: &Ledger) -> Result<u32, StoreError> {
    let meta = ledger.store.cf(CF_META)?;
    let layout = ledger
        .store
        .db
        .get_cf(meta, META_INDEX_LAYOUT)
        .map_err(ledger.store.err("read index_layout"))?;
    Ok(layout
        .and_then(|bytes| <[u8; 4]>::try_from(bytes.as_slice()).ok())
        .map_or(0, u32::from_le_bytes))
}

impl Ledger {
    /// The layout the index was written in, as its user named it with
    /// [`Ledger::reset_index`]; 0 for an index written before layouts were named.
    pub fn index_layout(&self) -> u32 {
        self.index_layout
    }

    /// Empties the index and names the layout it will be rebuilt in: for a user whose
    /// keys or values changed shape. Everything is unindexed until rebuilt. Synced.
    pub fn reset_index(&mut self, layout: u32) -> Result<(), AppendError> {
        self.check_writable()?;
        let cf = self.store.cf(CF_INDEX)?;
        let mut batch = WriteBatch::default();
        // Every stored key starts with a u32 BE length of at most INDEX_KEY_BYTES_MAX.
        batch.delete_range_cf(cf, [0u8].as_slice(), [0xffu8].as_slice());
        let meta = self.store.cf(CF_META)?;
        batch.put_cf(meta, META_INDEX_THROUGH, 0u64.to_le_bytes());
        batch.put_cf(meta, META_INDEX_LAYOUT, layout.to_le_bytes());
        self.store.write_synced(batch, "reset the index")?;
        self.indexed_through = Some(0);
        self.index_layout = layout;
        Ok(())
    }

    /// Whether every record up to this ledger's head is indexed, so [`Ledger::index_scan`]
    /// answers in full.
    pub fn indexed(&self) -> bool {
        self.indexed_through >= Some(self.head.seq)
    }

    /// Writes index `entries` for records already appended, and marks everything up to
    /// `through` indexed: for a user building the index of records written without it.
    /// Synced. `through` may not pass the head.
    pub fn put_index(&mut self, entries: &[IndexEntry], through: u64) -> Result<(), AppendError> {
        self.check_writable()?;
        if through > self.head.seq {
            return Err(AppendError::IndexBeyondHead {
                through,
                head: self.head.seq,
            });
        }
        entries.iter().try_for_each(check)?;
        let mut batch = WriteBatch::default();
        put(self, &mut batch, entries, through)?;
        self.store.write_synced(batch, "write index entries")?;
        self.indexed_through = Some(through);
        Ok(())
    }

    /// Up to `limit` entries under `key` with a seq after `after`, in seq order, none
    /// beyond this ledger's head: `(seq, value)`. Answers in full only when
    /// [`Ledger::indexed`].
    pub fn index_scan(
        &self,
        key: &[u8],
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, ReadError> {
        let from = after.map_or(0, |after| after.saturating_add(1));
        self.index_walk(key, from, Direction::Forward, limit)
    }

    /// Up to `limit` entries under `key` with a seq below `before` (all, when `None`),
    /// newest first, none beyond this ledger's head: `(seq, value)`. Answers in full only
    /// when [`Ledger::indexed`].
    pub fn index_scan_back(
        &self,
        key: &[u8],
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, ReadError> {
        let Some(last) = before
            .map_or(Some(self.head.seq), |before| before.checked_sub(1))
            .map(|last| last.min(self.head.seq))
        else {
            return Ok(Vec::new());
        };
        self.index_walk(key, last, Direction::Reverse, limit)
    }

    /// Up to `limit` entries under `key` from seq `start` on, in `direction`, none beyond
    /// this ledger's head.
    fn index_walk(
        &self,
        key: &[u8],
        start: u64,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<(u64, Vec<u8>)>, ReadError> {
        let Some(cf) = self.store.db.cf_handle(CF_INDEX) else {
            return Ok(Vec::new());
        };
        let prefix = prefix(key);
        let bound = |seq: u64| {
            let mut at = prefix.clone();
            at.extend_from_slice(&seq.to_be_bytes());
            at
        };
        let mut options = ReadOptions::default();
        options.set_iterate_lower_bound(bound(0));
        options.set_iterate_upper_bound(bound(self.head.seq.saturating_add(1)));
        let start = bound(start);
        let mode = IteratorMode::From(&start, direction);
        let mut found = Vec::new();
        for item in self.store.db.iterator_cf_opt(cf, options, mode) {
            if found.len() == limit {
                break;
            }
            let (stored, value) = item.map_err(self.store.err("read the index"))?;
            let seq = stored
                .get(prefix.len()..)
                .and_then(|tail| <[u8; 8]>::try_from(tail).ok())
                .map(u64::from_be_bytes)
                .ok_or(ReadError::MalformedKey {
                    cf: CF_INDEX,
                    len: stored.len(),
                })?;
            found.push((seq, value.into_vec()));
        }
        Ok(found)
    }
}
