//! Snapshots: opaque state plus the caller's digest, lz4-compressed and checksummed, newest K kept.

use rocksdb::WriteBatch;

use crate::error::{AppendError, ReadError, SnapshotError};
use crate::ledger::Ledger;
use crate::limits::{SNAPSHOTS_KEPT_MAX, SNAPSHOT_STATE_BYTES_MAX};
use crate::store::{key_seq, seq_key, CF_SNAPSHOTS};

/// What is known about a stored snapshot without decompressing it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SnapshotMeta {
    /// The seq whose state the snapshot holds.
    pub seq: u64,
    /// The caller's digest of that state.
    pub digest: [u8; 32],
    /// Bytes stored (header plus compressed state).
    pub stored_bytes: u64,
    /// Bytes of the state once decompressed.
    pub state_bytes: u64,
}

/// Domain separation for the snapshot checksum.
const SNAPSHOT_CHECKSUM_CONTEXT: &str = "jitos.ledger.snapshot.v1";

/// Stored header: digest (32), state length (u64 LE), checksum (32); the compressed state follows.
const SNAPSHOT_HEADER_BYTES: usize = 32 + 8 + 32;

/// The checksum binds the key's seq and the header to the compressed bytes, so a value moved
/// under another key or with an edited header fails as surely as one with flipped bytes.
fn checksum(seq: u64, digest: &[u8; 32], state_bytes: u64, compressed: &[u8]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(SNAPSHOT_CHECKSUM_CONTEXT);
    hasher.update(&seq.to_le_bytes());
    hasher.update(digest);
    hasher.update(&state_bytes.to_le_bytes());
    hasher.update(compressed);
    *hasher.finalize().as_bytes()
}

/// The stored value of a snapshot.
fn encode(seq: u64, digest: &[u8; 32], state: &[u8]) -> Vec<u8> {
    let state_bytes = state.len() as u64;
    let compressed = lz4_flex::block::compress(state);
    let mut value = Vec::with_capacity(SNAPSHOT_HEADER_BYTES + compressed.len());
    value.extend_from_slice(digest);
    value.extend_from_slice(&state_bytes.to_le_bytes());
    value.extend_from_slice(&checksum(seq, digest, state_bytes, &compressed));
    value.extend_from_slice(&compressed);
    value
}

/// A parsed header and the compressed bytes after it.
struct Parsed<'v> {
    meta: SnapshotMeta,
    checksum: [u8; 32],
    compressed: &'v [u8],
}

fn parse(seq: u64, value: &[u8]) -> Result<Parsed<'_>, String> {
    let too_short = || {
        format!(
            "its value is {} bytes, shorter than the header",
            value.len()
        )
    };
    let digest = value.get(..32).ok_or_else(too_short)?;
    let state_bytes = value.get(32..40).ok_or_else(too_short)?;
    let sum = value.get(40..SNAPSHOT_HEADER_BYTES).ok_or_else(too_short)?;
    let compressed = value.get(SNAPSHOT_HEADER_BYTES..).ok_or_else(too_short)?;
    let (Ok(digest), Ok(state_bytes), Ok(checksum)) = (
        <[u8; 32]>::try_from(digest),
        <[u8; 8]>::try_from(state_bytes),
        <[u8; 32]>::try_from(sum),
    ) else {
        return Err(too_short());
    };
    Ok(Parsed {
        meta: SnapshotMeta {
            seq,
            digest,
            stored_bytes: value.len() as u64,
            state_bytes: u64::from_le_bytes(state_bytes),
        },
        checksum,
        compressed,
    })
}

/// Checks and decompresses a stored snapshot; the error is the reason it is corrupt.
pub(crate) fn decode(seq: u64, value: &[u8]) -> Result<(SnapshotMeta, Vec<u8>), String> {
    let parsed = parse(seq, value)?;
    let meta = parsed.meta;
    let state_bytes = usize::try_from(meta.state_bytes)
        .ok()
        .filter(|bytes| *bytes <= SNAPSHOT_STATE_BYTES_MAX)
        .ok_or_else(|| {
            format!(
                "header claims {} state bytes, over SNAPSHOT_STATE_BYTES_MAX ({SNAPSHOT_STATE_BYTES_MAX})",
                meta.state_bytes
            )
        })?;
    if checksum(seq, &meta.digest, meta.state_bytes, parsed.compressed) != parsed.checksum {
        return Err("checksum does not match the stored bytes".to_owned());
    }
    let mut state = vec![0u8; state_bytes];
    let written = lz4_flex::block::decompress_into(parsed.compressed, &mut state)
        .map_err(|error| format!("does not decompress: {error}"))?;
    if written != state_bytes {
        return Err(format!(
            "decompresses to {written} bytes, header says {state_bytes}"
        ));
    }
    Ok((meta, state))
}

impl Ledger {
    /// Stores the state at `seq` (at most the head) with the caller's digest, synced, then
    /// keeps only the newest `SNAPSHOTS_KEPT_MAX`. A snapshot at an existing seq replaces it.
    pub fn put_snapshot(
        &mut self,
        seq: u64,
        digest: [u8; 32],
        state: &[u8],
    ) -> Result<(), AppendError> {
        self.check_writable()?;
        if seq > self.head.seq {
            return Err(AppendError::SnapshotBeyondHead {
                seq,
                head: self.head.seq,
            });
        }
        if state.len() > SNAPSHOT_STATE_BYTES_MAX {
            return Err(AppendError::SnapshotTooLarge {
                bytes: state.len(),
                max: SNAPSHOT_STATE_BYTES_MAX,
            });
        }
        let mut seqs = self.snapshot_seqs()?;
        seqs.push(seq);
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs.dedup();
        let (kept, dropped) = seqs.split_at(seqs.len().min(SNAPSHOTS_KEPT_MAX));
        if !kept.contains(&seq) {
            return Err(AppendError::SnapshotTooOld {
                seq,
                kept: SNAPSHOTS_KEPT_MAX,
                oldest_kept: kept.last().copied().unwrap_or(seq),
            });
        }
        let cf = self.store.cf(CF_SNAPSHOTS)?;
        let mut batch = WriteBatch::default();
        batch.put_cf(cf, seq_key(seq), encode(seq, &digest, state));
        for old in dropped {
            batch.delete_cf(cf, seq_key(*old));
        }
        self.store.write_synced(batch, "store a snapshot")?;
        Ok(())
    }

    /// The stored snapshots, newest first, from their headers (nothing is decompressed).
    /// One whose key or header cannot be read is left out, so recovery can still use the
    /// others; `verify` reports it.
    pub fn snapshots(&self) -> Result<Vec<SnapshotMeta>, ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_SNAPSHOTS)?);
        iter.seek_to_last();
        let mut metas = Vec::new();
        while let Some((key, value)) = iter.item() {
            let parsed = key_seq(CF_SNAPSHOTS, key)
                .ok()
                .and_then(|seq| parse(seq, value).ok());
            if let Some(parsed) = parsed {
                metas.push(parsed.meta);
            }
            iter.prev();
        }
        iter.status().map_err(self.store.err("list snapshots"))?;
        Ok(metas)
    }

    /// The state stored at `seq`, decompressed and checked against its checksum.
    pub fn load_snapshot(&self, seq: u64) -> Result<Vec<u8>, SnapshotError> {
        let value = self
            .store
            .db
            .get_pinned_cf(self.store.cf(CF_SNAPSHOTS)?, seq_key(seq))
            .map_err(self.store.err("read a snapshot"))?
            .ok_or(SnapshotError::NotFound { seq })?;
        decode(seq, &value)
            .map(|(_, state)| state)
            .map_err(|reason| SnapshotError::Corrupt { seq, reason })
    }

    /// Seqs of the stored snapshots, ascending.
    fn snapshot_seqs(&self) -> Result<Vec<u64>, ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_SNAPSHOTS)?);
        iter.seek_to_first();
        let mut seqs = Vec::new();
        while let Some(key) = iter.key() {
            // A malformed key is damage `verify` reports; retention leaves it alone.
            if let Ok(seq) = key_seq(CF_SNAPSHOTS, key) {
                seqs.push(seq);
            }
            iter.next();
        }
        iter.status().map_err(self.store.err("list snapshots"))?;
        Ok(seqs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        // A stored snapshot must decode to the same state and header, including an empty one.
        for state in [Vec::new(), b"state state state state".repeat(100)] {
            let value = encode(5, &[7; 32], &state);
            let (meta, decoded) = decode(5, &value).unwrap();
            assert_eq!(decoded, state);
            assert_eq!(meta.digest, [7; 32]);
            assert_eq!(meta.state_bytes, state.len() as u64);
            assert_eq!(meta.stored_bytes, value.len() as u64);
        }
    }

    #[test]
    fn any_damage_is_detected() {
        // A flipped byte anywhere, a truncation, or a different key must fail the check.
        let value = encode(5, &[7; 32], &b"abcdefgh".repeat(64));
        for index in 0..value.len() {
            let mut damaged = value.clone();
            damaged[index] ^= 0x01;
            assert!(decode(5, &damaged).is_err(), "byte {index}");
        }
        assert!(decode(5, &value[..value.len() - 1]).is_err());
        assert!(decode(5, &value[..10]).is_err());
        assert!(decode(6, &value).is_err());
    }
}
