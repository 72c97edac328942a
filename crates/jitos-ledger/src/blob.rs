//! Content-addressed blobs: stored once under their BLAKE3 hash, verified on every read.

use rocksdb::WriteBatch;

use crate::error::{AppendError, ReadError};
use crate::hash::Hash;
use crate::ledger::Ledger;
use crate::limits::{BATCH_BYTES_MAX, BLOB_BYTES_MAX};
use crate::store::CF_BLOBS;

/// The address of a blob: plain BLAKE3 of its bytes, so `b3sum` can check it outside jitos.
pub fn blob_hash(bytes: &[u8]) -> Hash {
    blake3::hash(bytes).into()
}

impl Ledger {
    /// Stores `bytes` under their hash, synced, and returns the hash. Storing the same bytes
    /// again writes nothing.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<Hash, AppendError> {
        let hashes = self.put_blobs(&[bytes])?;
        Ok(hashes[0])
    }

    /// Stores each blob under its hash with one synced write, and returns the hashes in
    /// order. Blobs already stored intact are not written again.
    pub fn put_blobs(&mut self, blobs: &[&[u8]]) -> Result<Vec<Hash>, AppendError> {
        self.check_writable()?;
        let cf = self.store.cf(CF_BLOBS)?;
        let mut batch = WriteBatch::default();
        let mut hashes = Vec::with_capacity(blobs.len());
        let mut batch_bytes = 0usize;
        for bytes in blobs {
            if bytes.len() > BLOB_BYTES_MAX {
                return Err(AppendError::BlobTooLarge {
                    bytes: bytes.len(),
                    max: BLOB_BYTES_MAX,
                });
            }
            batch_bytes = batch_bytes.saturating_add(bytes.len());
            if batch_bytes > BATCH_BYTES_MAX {
                return Err(AppendError::BatchBytesTooLarge {
                    bytes: batch_bytes,
                    max: BATCH_BYTES_MAX,
                });
            }
            let hash = blob_hash(bytes);
            let existing = self
                .store
                .db
                .get_pinned_cf(cf, hash.0)
                .map_err(self.store.err("look up a blob"))?;
            // A stored copy that was damaged is rewritten rather than trusted.
            if existing.is_none_or(|stored| stored.as_ref() != *bytes) {
                batch.put_cf(cf, hash.0, bytes);
            }
            hashes.push(hash);
        }
        if !batch.is_empty() {
            self.store.write_synced(batch, "store blobs")?;
        }
        Ok(hashes)
    }

    /// Deletes the blobs stored under `hashes` (absent ones are skipped), synced.
    pub fn delete_blobs(&mut self, hashes: &[Hash]) -> Result<(), AppendError> {
        self.check_writable()?;
        let cf = self.store.cf(CF_BLOBS)?;
        let mut batch = WriteBatch::default();
        for hash in hashes {
            batch.delete_cf(cf, hash.0);
        }
        self.store.write_synced(batch, "delete blobs")?;
        Ok(())
    }

    /// The hash and stored size of every blob, in hash order.
    pub fn blob_list(&self) -> Result<Vec<(Hash, u64)>, ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_BLOBS)?);
        iter.seek_to_first();
        let mut blobs = Vec::new();
        while let Some((key, value)) = iter.item() {
            let hash =
                <[u8; 32]>::try_from(key)
                    .map(Hash)
                    .map_err(|_| ReadError::MalformedKey {
                        cf: CF_BLOBS,
                        len: key.len(),
                    })?;
            blobs.push((hash, value.len() as u64));
            iter.next();
        }
        iter.status().map_err(self.store.err("list blobs"))?;
        Ok(blobs)
    }

    /// Whether a blob is stored under `hash` (its bytes are checked only when read).
    pub fn has_blob(&self, hash: &Hash) -> Result<bool, ReadError> {
        Ok(self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_BLOBS)?, hash.0)
            .map_err(self.store.err("look up a blob"))?
            .is_some())
    }

    /// The blob stored under `hash`, if any, after checking its bytes still hash to it.
    pub fn get_blob(&self, hash: &Hash) -> Result<Option<Vec<u8>>, ReadError> {
        let Some(stored) = self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_BLOBS)?, hash.0)
            .map_err(self.store.err("read a blob"))?
        else {
            return Ok(None);
        };
        if blob_hash(&stored) != *hash {
            return Err(ReadError::CorruptBlob { hash: *hash });
        }
        Ok(Some(stored.to_vec()))
    }
}
