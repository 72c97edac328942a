//! Content-addressed blobs: stored once under their BLAKE3 hash, verified on every read.

use rocksdb::WriteBatch;

use crate::error::{AppendError, ReadError};
use crate::hash::Hash;
use crate::ledger::Ledger;
use crate::limits::BLOB_BYTES_MAX;
use crate::store::CF_BLOBS;

/// The address of a blob: plain BLAKE3 of its bytes, so `b3sum` can check it outside jitos.
pub(crate) fn blob_hash(bytes: &[u8]) -> Hash {
    blake3::hash(bytes).into()
}

impl Ledger {
    /// Stores `bytes` under their hash, synced, and returns the hash. Storing the same bytes
    /// again writes nothing.
    pub fn put_blob(&mut self, bytes: &[u8]) -> Result<Hash, AppendError> {
        self.check_writable()?;
        if bytes.len() > BLOB_BYTES_MAX {
            return Err(AppendError::BlobTooLarge {
                bytes: bytes.len(),
                max: BLOB_BYTES_MAX,
            });
        }
        let hash = blob_hash(bytes);
        let cf = self.store.cf(CF_BLOBS)?;
        let existing = self
            .store
            .db
            .get_pinned_cf(cf, hash.0)
            .map_err(self.store.err("look up a blob"))?;
        // A stored copy that was damaged is rewritten rather than trusted.
        if existing.is_some_and(|stored| stored.as_ref() == bytes) {
            return Ok(hash);
        }
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, hash.0, bytes);
        self.store.write_synced(batch, "store a blob")?;
        Ok(hash)
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
