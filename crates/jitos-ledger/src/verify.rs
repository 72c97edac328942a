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
        let mut report = VerifyReport {
            records_checked: 0,
            head: self.head,
            first_bad: None,
            snapshots_checked: 0,
            bad_snapshots: Vec::new(),
            blobs_checked: 0,
            bad_blobs: Vec::new(),
            bad_blob_count: 0,
        };
        report.first_bad = self.verify_records(&mut report.records_checked, check)?;
        self.verify_snapshots(&mut report, check)?;
        self.verify_blobs(&mut report)?;
        Ok(report)
    }

    /// Walks the chain, counting good records in `checked`; returns the first bad one.
    fn verify_records(
        &self,
        checked: &mut u64,
        check: &mut dyn FnMut(VerifyEvent),
    ) -> Result<Option<(u64, String)>, ReadError> {
        let mut parent = Hash::ZERO;
        for item in self.range(0, self.head.seq) {
            let expected = *checked;
            let record = match item {
                Ok(record) => record,
                Err(ReadError::CorruptRecord { seq, reason }) => return Ok(Some((seq, reason))),
                Err(ReadError::MissingRecord { seq }) => {
                    return Ok(Some((seq, "missing: the store has a hole".to_owned())))
                }
                Err(ReadError::MalformedKey { len, .. }) => {
                    return Ok(Some((
                        expected,
                        format!("next key is malformed ({len} bytes)"),
                    )))
                }
                // RocksDB's own block checksums catch damage below the record layer.
                Err(ReadError::Store(StoreError::Rocks { source, .. }))
                    if source.kind() == rocksdb::ErrorKind::Corruption =>
                {
                    return Ok(Some((expected, format!("storage is corrupt: {source}"))))
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
                return Ok(Some((expected, reason)));
            }
            parent = record.hash;
            *checked += 1;
            if record.seq.is_multiple_of(VERIFY_PROGRESS_RECORDS) && record.seq > 0 {
                check(VerifyEvent::Progress { seq: record.seq });
            }
        }
        Ok(None)
    }

    fn verify_snapshots(
        &self,
        report: &mut VerifyReport,
        check: &mut dyn FnMut(VerifyEvent),
    ) -> Result<(), ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_SNAPSHOTS)?);
        iter.seek_to_first();
        while let Some((key, value)) = iter.item() {
            match key_seq(CF_SNAPSHOTS, key) {
                Err(error) => report.bad_snapshots.push((0, error.to_string())),
                Ok(seq) if seq > self.head.seq => {
                    let reason = format!("it is beyond the head ({})", self.head.seq);
                    report.bad_snapshots.push((seq, reason));
                }
                Ok(seq) => match snapshot::decode(seq, value) {
                    Ok((meta, state)) => {
                        report.snapshots_checked += 1;
                        check(VerifyEvent::Snapshot {
                            meta,
                            state: &state,
                        });
                    }
                    Err(reason) => report.bad_snapshots.push((seq, reason)),
                },
            }
            iter.next();
        }
        iter.status().map_err(self.store.err("scan snapshots"))?;
        Ok(())
    }

    fn verify_blobs(&self, report: &mut VerifyReport) -> Result<(), ReadError> {
        let mut iter = self.store.db.raw_iterator_cf(self.store.cf(CF_BLOBS)?);
        iter.seek_to_first();
        while let Some((key, value)) = iter.item() {
            let problem = match <[u8; 32]>::try_from(key) {
                Err(_) => Some((Hash::ZERO, format!("malformed key of {} bytes", key.len()))),
                Ok(key) if blob_hash(value) != Hash(key) => {
                    Some((Hash(key), "bytes no longer hash to the address".to_owned()))
                }
                Ok(_) => None,
            };
            match problem {
                None => report.blobs_checked += 1,
                Some(entry) => {
                    report.bad_blob_count += 1;
                    if report.bad_blobs.len() < VERIFY_BAD_BLOBS_LISTED_MAX {
                        report.bad_blobs.push(entry);
                    }
                }
            }
            iter.next();
        }
        iter.status().map_err(self.store.err("scan blobs"))?;
        Ok(())
    }
}
