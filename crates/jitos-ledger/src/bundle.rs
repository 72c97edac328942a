//! Exporting a range of the ledger to a bundle file, and seeding a new store from one.

use std::fs;
use std::path::Path;

use rocksdb::{WriteBatch, WriteOptions};

use crate::bundle_format::{BundleInfo, BundleReader, BundleWriter, Header, BUNDLE_FORMAT_VERSION};
use crate::error::{BundleError, ReadError};
use crate::ledger::{dir_is_empty_or_missing, Ledger, OpenOptions};
use crate::limits::{BUNDLE_RECORDS_MAX, IMPORT_BATCH_BYTES_MAX, IMPORT_BATCH_RECORDS};
use crate::staging::{parent_dir, sync_parent};
use crate::store::{seq_key, Access, Store, CF_RECORDS};

impl Ledger {
    /// Writes records `from..=to_inclusive` to a bundle at `path`, atomically: the file
    /// appears, synced, only when complete.
    pub fn export_bundle(
        &self,
        path: &Path,
        from: u64,
        to_inclusive: u64,
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
        let mut writer = BundleWriter::create(path, &header)?;
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
            let encoded = record.encode().map_err(|source| BundleError::Encode {
                seq: record.seq,
                source,
            })?;
            writer.record(&encoded)?;
        }
        let bundle_bytes = writer.finish()?;
        Ok(BundleInfo {
            format_version: BUNDLE_FORMAT_VERSION,
            store_id: header.store_id,
            genesis: (from == 0).then_some(self.genesis),
            genesis_hash,
            from,
            to,
            records: record_count,
            head_hash,
            bundle_bytes,
        })
    }

    /// Creates a store in `dir` (missing or empty) from a bundle that starts at genesis, and
    /// opens it. The store is built in a hidden sibling directory and renamed into place only
    /// after the whole bundle has verified, so a bad bundle leaves nothing behind.
    pub fn import_bundle(
        dir: &Path,
        bundle: &Path,
        opts: OpenOptions,
    ) -> Result<Ledger, BundleError> {
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
        // Batches go to the WAL unsynced; the final synced write below makes them all durable.
        let unsynced = WriteOptions::default();
        let mut batch = WriteBatch::default();
        while let Some(record) = reader.next_record()? {
            let encoded = record.encode().map_err(|source| BundleError::Encode {
                seq: record.seq,
                source,
            })?;
            batch.put_cf(records_cf, seq_key(record.seq), encoded);
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
        Ok(Ledger::open(dir, opts)?)
    }

    /// Reads and fully verifies a bundle without any store, and says what it holds.
    pub fn read_bundle_info(path: &Path) -> Result<BundleInfo, BundleError> {
        BundleReader::open(path)?.finish()
    }
}
