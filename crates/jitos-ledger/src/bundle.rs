//! Exporting a range of the ledger to a bundle file with the blobs its records name, and
//! seeding a new store from one after every record has been accepted by the caller.
//!
//! The ledger cannot read payloads, so which blobs a record names, and whether a record is
//! acceptable at all (the kernel folds it), is the caller's `RecordCheck`.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use rocksdb::{WriteBatch, WriteOptions};

use crate::bundle_format::{
    BundleInfo, BundleReader, BundleWriter, Entry, Header, BUNDLE_FORMAT_VERSION,
};
use crate::error::{BundleError, ReadError};
use crate::hash::Hash;
use crate::ledger::{dir_is_empty_or_missing, Ledger, OpenOptions};
use crate::limits::{BUNDLE_RECORDS_MAX, IMPORT_BATCH_BYTES_MAX, IMPORT_BATCH_RECORDS};
use crate::record::Record;
use crate::staging::{parent_dir, sync_parent};
use crate::store::{seq_key, Access, Store, CF_BLOBS, CF_RECORDS};

/// Why the caller refused a record, in its own error type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The caller's judgement of one record of a bundle: the blobs it names, or why it may not
/// be taken in. Export asks it which blobs to carry; import asks it before a record is
/// accepted, in chain order from genesis, so it can fold each one.
pub type RecordCheck<'a> = dyn FnMut(&Record) -> Result<BTreeSet<Hash>, BoxError> + 'a;

impl Ledger {
    /// Writes records `from..=to_inclusive` to a bundle at `path`, each preceded by the
    /// blobs it names (as `named` says) that the bundle does not carry yet, atomically: the
    /// file appears, synced, only when complete. A named blob this store does not hold is
    /// marked absent.
    pub fn export_bundle(
        &self,
        path: &Path,
        from: u64,
        to_inclusive: u64,
        named: &mut RecordCheck<'_>,
    ) -> Result<BundleInfo, BundleError> {
        self.export_as(path, from, to_inclusive, named, BUNDLE_FORMAT_VERSION)
    }

    /// `export_bundle` in bundle layout `version` (the first, records only, for tests of
    /// its reader).
    fn export_as(
        &self,
        path: &Path,
        from: u64,
        to_inclusive: u64,
        named: &mut RecordCheck<'_>,
        version: u32,
    ) -> Result<BundleInfo, BundleError> {
        let to = to_inclusive;
        let record_count = to.checked_sub(from).and_then(|span| span.checked_add(1));
        let record_count = match record_count {
            Some(count) if to <= self.head.seq && count <= BUNDLE_RECORDS_MAX => count,
            _ => {
                return Err(BundleError::RangeOutOfBounds {
                    from,
                    to,
                    head: self.head.seq,
                })
            }
        };
        let fetch = |seq| self.get(seq)?.ok_or(ReadError::MissingRecord { seq });
        let genesis_hash = if from == 0 {
            Some(fetch(0)?.hash)
        } else {
            None
        };
        let head_hash = fetch(to)?.hash;
        let header = Header {
            store_id: self.genesis.store_id,
            genesis_hash,
            from,
            to,
            record_count,
            head_hash,
        };
        let mut writer = BundleWriter::create(path, &header, version)?;
        let carries_blobs = version > 1;
        let mut carried = BTreeSet::new();
        let (mut blobs, mut blobs_absent) = (0, 0);
        let mut previous = None;
        for record in self.range(from, to) {
            let record = record?;
            // Records were each checked on read; the links between them are checked here, so a
            // bundle never carries a chain the store itself would fail.
            if previous.is_some_and(|hash| hash != record.parent) {
                return Err(ReadError::CorruptRecord {
                    seq: record.seq,
                    reason: "does not link to the record before it".to_owned(),
                }
                .into());
            }
            previous = Some(record.hash);
            if carries_blobs {
                let refused = |reason| BundleError::Refused {
                    path: path.to_path_buf(),
                    seq: record.seq,
                    reason,
                };
                for hash in named(&record).map_err(refused)? {
                    if !carried.insert(hash) {
                        continue;
                    }
                    match self.get_blob(&hash)? {
                        Some(bytes) => {
                            writer.blob(&bytes)?;
                            blobs += 1;
                        }
                        None => {
                            writer.absent(&hash)?;
                            blobs_absent += 1;
                        }
                    }
                }
            }
            let encoded = record.encode().map_err(|source| BundleError::Encode {
                seq: record.seq,
                source,
            })?;
            writer.record(&encoded)?;
        }
        let bundle_bytes = writer.finish()?;
        Ok(BundleInfo {
            format_version: version,
            store_id: header.store_id,
            genesis: (from == 0).then_some(self.genesis),
            genesis_hash,
            from,
            to,
            records: record_count,
            head_hash,
            blobs,
            blobs_absent,
            bundle_bytes,
        })
    }

    /// Creates a store in `dir` (missing or empty) from a bundle that starts at genesis, and
    /// opens it. Each record is taken in only after `check` accepts it, in chain order, and
    /// its blobs must be exactly those `check` says it names (carried, or absent at the
    /// source). The store is built in a hidden sibling directory and renamed into place only
    /// after the whole bundle has verified, so a bad bundle leaves nothing behind.
    pub fn import_bundle(
        dir: &Path,
        bundle: &Path,
        opts: OpenOptions,
        check: &mut RecordCheck<'_>,
    ) -> Result<(Ledger, BundleInfo), BundleError> {
        let bad_target = |reason| BundleError::BadTarget {
            dir: dir.to_path_buf(),
            reason,
        };
        let io_error = |op, source| BundleError::Io {
            op,
            path: dir.to_path_buf(),
            source,
        };
        if !dir_is_empty_or_missing(dir).map_err(|source| io_error("read directory", source))? {
            return Err(bad_target(
                "it is not empty; import into a missing or empty directory",
            ));
        }
        let name = dir
            .file_name()
            .ok_or_else(|| bad_target("it has no final name component to create"))?;
        let mut reader = BundleReader::open(bundle)?;
        if reader.header.from != 0 {
            return Err(BundleError::NotFromGenesis {
                path: bundle.to_path_buf(),
                from: reader.header.from,
            });
        }
        let parent = parent_dir(dir);
        fs::create_dir_all(&parent).map_err(|source| io_error("create the parent of", source))?;
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{}.import-", name.to_string_lossy()))
            .tempdir_in(&parent)
            .map_err(|source| io_error("create a staging directory beside", source))?;
        let store = Store::open(staging.path(), Access::Create)?;
        let records_cf = store.cf(CF_RECORDS)?;
        let blobs_cf = store.cf(CF_BLOBS)?;
        // Batches go to the WAL unsynced; the final synced write below makes them all durable.
        let unsynced = WriteOptions::default();
        let mut batch = WriteBatch::default();
        while let Some(entry) = reader.next_entry()? {
            match entry {
                Entry::Blob(hash, bytes) => batch.put_cf(blobs_cf, hash.0, bytes),
                Entry::Absent => {}
                Entry::Record(record) => {
                    let named = check(&record).map_err(|reason| BundleError::Refused {
                        path: bundle.to_path_buf(),
                        seq: record.seq,
                        reason,
                    })?;
                    reader.check_named(&named)?;
                    let encoded = record.encode().map_err(|source| BundleError::Encode {
                        seq: record.seq,
                        source,
                    })?;
                    batch.put_cf(records_cf, seq_key(record.seq), encoded);
                }
            }
            if batch.len() >= IMPORT_BATCH_RECORDS
                || batch.size_in_bytes() >= IMPORT_BATCH_BYTES_MAX
            {
                let full = std::mem::take(&mut batch);
                store
                    .db
                    .write_opt(full, &unsynced)
                    .map_err(store.err("import records"))?;
            }
        }
        let info = reader.finish()?;
        store.put_meta(&mut batch, &info.store_id)?;
        store.write_synced(batch, "finish the import")?;
        drop(store);
        fs::rename(staging.path(), dir)
            .map_err(|source| io_error("move the imported store to", source))?;
        // The staging path no longer exists; keeping it only stops a pointless removal attempt.
        let _ = staging.keep();
        sync_parent(dir).map_err(|source| io_error("sync the directory of", source))?;
        Ok((Ledger::open(dir, opts)?, info))
    }

    /// Reads and verifies a bundle without any store, and says what it holds: everything
    /// but what only the caller can judge (whether its records fold, which blobs each
    /// names), which `import_bundle` checks.
    pub fn read_bundle_info(path: &Path) -> Result<BundleInfo, BundleError> {
        BundleReader::open(path)?.finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{Actor, CreateOptions, FixedClock, NewRecord};

    // Goal: a bundle of the first layout (records only, as jitos wrote before bundles
    // carried blobs) still reads and imports, every record checked, and says it carries no
    // blobs. Method: a store exported in layout 1, imported with a check that counts.
    #[test]
    fn a_version_1_bundle_still_imports() {
        let temp = tempfile::tempdir().unwrap();
        let options = CreateOptions {
            store_id: [3; 16],
            clock: Arc::new(FixedClock(5)),
        };
        let mut source = Ledger::create(&temp.path().join("source"), options).unwrap();
        let record = |i: u8| NewRecord {
            kind: "test.event".into(),
            actor: Actor::System,
            payload: vec![i],
        };
        source.append_batch((0..5).map(record).collect()).unwrap();
        let bundle = temp.path().join("v1.bundle");
        let mut never = |_: &Record| -> Result<BTreeSet<Hash>, BoxError> {
            Err("a version 1 export asks for no blobs".into())
        };
        source.export_as(&bundle, 0, 5, &mut never, 1).unwrap();
        assert_eq!(std::fs::read(&bundle).unwrap()[8..12], 1u32.to_le_bytes());

        let info = Ledger::read_bundle_info(&bundle).unwrap();
        assert_eq!(info.format_version, 1);
        assert!(!info.carries_blobs());
        let mut checked = Vec::new();
        let mut count = |r: &Record| -> Result<BTreeSet<Hash>, BoxError> {
            checked.push(r.seq);
            Ok(BTreeSet::from([Hash([1; 32])]))
        };
        let opts = OpenOptions {
            read_only: false,
            clock: Arc::new(FixedClock(6)),
        };
        let (imported, _) =
            Ledger::import_bundle(&temp.path().join("imported"), &bundle, opts, &mut count)
                .unwrap();
        assert_eq!(checked, [0, 1, 2, 3, 4, 5]);
        assert_eq!(imported.head(), source.head());
    }
}
