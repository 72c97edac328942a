//! `Ledger::verify`: a full walk of the chain, the snapshots and the blobs, reporting damage.

use crate::blob::blob_hash;
use crate::error::{ReadError, StoreError};
use crate::hash::Hash;
use crate::ledger::{check_genesis_record, Ledger};
use crate::limits::VERIFY_PROGRESS_RECORDS;
use crate::record::Head;
use crate::snapshot::{self, SnapshotMeta};
use crate::store::{key_seq, CF_BLOBS, CF_SNAPSHOTS};

/// Most damaged blobs listed by name in a report; the rest are only counted.
const VERIFY_BAD_BLOBS_LISTED_MAX: usize = 64;

/// What `verify` tells its caller while it runs.
#[derive(Debug)]
pub enum VerifyEvent<'a> {
    /// Every `VERIFY_PROGRESS_RECORDS` records: the seq just checked.
    Progress {
        /// The seq just checked.
        seq: u64,
    },
    /// A snapshot that passed its own checks, for the caller to check against its digest.
    Snapshot {
        /// The snapshot's header.
        meta: SnapshotMeta,
        /// The decompressed state.
        state: &'a [u8],
    },
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Records that passed every check, counting from genesis.
    pub records_checked: u64,
    /// The head the ledger holds.
    pub head: Head,
    /// The first bad seq and why; everything after it is unverified.
    pub first_bad: Option<(u64, String)>,
    /// Snapshots that passed their checksum and decompressed.
    pub snapshots_checked: u64,
    /// Snapshots that failed, with why.
    pub bad_snapshots: Vec<(u64, String)>,
    /// Blobs whose bytes hash to their address.
    pub blobs_checked: u64,
    /// Blobs that failed (at most 64 listed), with why; a malformed key is listed as `Hash::ZERO`.
    pub bad_blobs: Vec<(Hash, String)>,
    /// All blobs that failed, listed or not.
    pub bad_blob_count: u64,
}

impl VerifyReport {
    /// Whether nothing bad was found.
    pub fn is_clean(&self) -> bool {
        self.first_bad.is_none() && self.bad_snapshots.is_empty() && self.bad_blob_count == 0
    }
}

impl Ledger {
    /// Walks every record from genesis (decode, no holes, parent links, hash recompute), then
    /// every snapshot (checksum, decompress; each good one is handed to `check`), then every
    /// blob. Damage is reported, not returned as an error; only a failing store is an `Err`.
    pub fn verify(&self, check: &mut dyn FnMut(VerifyEvent)) -> Result<VerifyReport, ReadError> {
        let (records_checked, first_bad) = self.verify_records(check)?;
        let (snapshots_checked, bad_snapshots) = self.verify_snapshots(check)?;
        let (blobs_checked, bad_blobs, bad_blob_count) = self.verify_blobs()?;
        Ok(VerifyReport {
            records_checked,
            head: self.head,
            first_bad,
            snapshots_checked,
            bad_snapshots,
            blobs_checked,
            bad_blobs,
            bad_blob_count,
        })
    }

    fn verify_records(
        &self,
        check: &mut dyn FnMut(VerifyEvent),
    ) -> Result<(u64, Option<(u64, String)>), ReadError> {
        let mut expected = 0u64;
        let mut parent = Hash::ZERO;
        for item in self.range(0, self.head.seq) {
            let record = match item {
                Ok(record) => record,
                Err(ReadError::CorruptRecord { seq, reason }) => return Ok((expected, Some((seq, reason)))),
                Err(ReadError::MissingRecord { seq }) => {
                    return Ok((expected, Some((seq, "missing: the store has a hole".to_owned()))))
                }
                Err(ReadError::MalformedKey { len, .. }) => {
                    return Ok((expected, Some((expected, format!("next key is malformed ({len} bytes)")))))
                }
                // RocksDB's own block checksums catch damage below the record layer.
                Err(ReadError::Store(StoreError::Rocks { source, .. }))
                    if source.kind() == rocksdb::ErrorKind::Corruption =>
                {
                    return Ok((expected, Some((expected, format!("storage is corrupt: {source}")))))
                }
                Err(error) => return Err(error),
            };
            let problem = if expected == 0 {
                match check_genesis_record(&record) {
                    Ok(genesis) if genesis == self.genesis => None,
                    Ok(_) => Some("genesis differs from the one loaded at open".to_owned()),
                    Err(reason) => Some(reason),
                }
            } else if record.parent != parent {
                Some(format!(
                    "parent is {}, but record {} hashes to {parent}",
                    record.parent,
                    expected - 1
                ))
            } else {
                None
            };
            if let Some(reason) = problem {
                return Ok((expected, Some((expected, reason))));
            }
            parent = record.hash;
            expected += 1;
            if record.seq % VERIFY_PROGRESS_RECORDS == 0 && record.seq > 0 {
                check(VerifyEvent::Progress { seq: record.seq });
            }
        }
        Ok((expected, None))
    }

    fn verify_snapshots(
        &self,
        check: &mut dyn FnMut(VerifyEvent),
    ) -> Result<(u64, Vec<(u64, String)>), ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_SNAPSHOTS)?);
        iter.seek_to_first();
        let mut checked = 0u64;
        let mut bad = Vec::new();
        while let Some((key, value)) = iter.item() {
            match key_seq(CF_SNAPSHOTS, key) {
                Err(error) => bad.push((0, error.to_string())),
                Ok(seq) if seq > self.head.seq => {
                    bad.push((seq, format!("it is beyond the head ({})", self.head.seq)));
                }
                Ok(seq) => match snapshot::decode(seq, value) {
                    Ok((meta, state)) => {
                        checked += 1;
                        check(VerifyEvent::Snapshot { meta, state: &state });
                    }
                    Err(reason) => bad.push((seq, reason)),
                },
            }
            iter.next();
        }
        iter.status().map_err(self.store.err("scan snapshots"))?;
        Ok((checked, bad))
    }

    fn verify_blobs(&self) -> Result<(u64, Vec<(Hash, String)>, u64), ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_BLOBS)?);
        iter.seek_to_first();
        let mut checked = 0u64;
        let mut bad = Vec::new();
        let mut bad_count = 0u64;
        while let Some((key, value)) = iter.item() {
            let problem = match <[u8; 32]>::try_from(key) {
                Err(_) => Some((Hash::ZERO, format!("malformed key of {} bytes", key.len()))),
                Ok(key) if blob_hash(value) != Hash(key) => {
                    Some((Hash(key), "bytes no longer hash to the address".to_owned()))
                }
                Ok(_) => None,
            };
            match problem {
                None => checked += 1,
                Some(entry) => {
                    bad_count += 1;
                    if bad.len() < VERIFY_BAD_BLOBS_LISTED_MAX {
                        bad.push(entry);
                    }
                }
            }
            iter.next();
        }
        iter.status().map_err(self.store.err("scan blobs"))?;
        Ok((checked, bad, bad_count))
    }
}
