//! The kernel proper: open, recover, commit rewrites in groups, answer queries.

use std::{path::Path, sync::Arc};

use jitos_ledger::{
    Actor, Clock, CreateOptions, Hash, Head, Ledger, NewRecord, OpenOptions, Record,
};
use jitos_sws::{Pool, SwsError};
use jitos_warp::{Graph, Rewrite, StateDigest};

use crate::{
    payload, recovery, time_travel, verify, CommitError, HistoryStep, KernelError, RecoveryReport,
    ReplayOutcome, State, VerifyOutcome, KIND_REWRITE,
};

/// Snapshot interval used when the operator does not choose one.
pub const SNAPSHOT_EVERY_DEFAULT: u64 = 10_000;

/// How to open a store.
#[derive(Clone)]
pub struct KernelOptions {
    /// Where recorded time comes from.
    pub clock: Arc<dyn Clock>,
    /// Take a snapshot every this many records (0 = only on request).
    pub snapshot_every: u64,
    /// Open for inspection only: no writes, and a broken chain is tolerated.
    pub read_only: bool,
    /// Create a store with this identity when the directory holds none.
    pub create_with_id: Option<[u8; 16]>,
    /// Walk the whole chain before serving (a broken chain then refuses to open).
    pub verify_on_open: bool,
}

/// A committed rewrite, as acknowledged to its author after the fsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The record.
    pub record: Record,
    /// The state digest right after it.
    pub digest: StateDigest,
}

/// The single writer: the ledger and the graph folded from it.
pub struct Kernel {
    ledger: Ledger,
    pub(crate) state: State,
    options: KernelOptions,
    dir: String,
    last_snapshot_seq: Option<u64>,
    recovery: RecoveryReport,
    broken_at: Option<(u64, String)>,
}

impl Kernel {
    /// Opens (or creates) the store in `dir`, verifies it if asked, and recovers the state.
    pub fn open(dir: &Path, options: KernelOptions) -> Result<Kernel, KernelError> {
        let open_options = OpenOptions {
            read_only: options.read_only,
            clock: options.clock.clone(),
        };
        let ledger = match options.create_with_id {
            Some(store_id) if !Ledger::exists(dir) && !options.read_only => Ledger::create(
                dir,
                CreateOptions {
                    store_id,
                    clock: options.clock.clone(),
                },
            )?,
            _ => Ledger::open(dir, open_options)?,
        };
        let dir_name = dir.display().to_string();
        let mut broken_at = None;
        if options.verify_on_open {
            let outcome = verify::verify(&ledger, &mut |_| {})?;
            if let Some((seq, reason)) = outcome.first_bad {
                if !options.read_only {
                    return Err(KernelError::BrokenChain {
                        dir: dir_name,
                        seq,
                        reason,
                    });
                }
                broken_at = Some((seq, reason));
            }
        }
        // A read-only inspection of a broken store folds only the intact prefix.
        let target = match &broken_at {
            Some((seq, _)) => seq.saturating_sub(1),
            None => ledger.head().seq,
        };
        let (state, recovery) = recovery::rebuild(&ledger, target)?;
        tracing::info!(
            head = ledger.head().seq,
            snapshot = ?recovery.snapshot_seq,
            replayed = recovery.replayed_records,
            "recovered"
        );
        Ok(Kernel {
            ledger,
            state,
            options,
            dir: dir_name,
            // The newest snapshot recovery could trust; an ignored one does not delay the next.
            last_snapshot_seq: recovery.snapshot_seq,
            recovery,
            broken_at,
        })
    }

    /// Validates, records and applies a group of rewrites with one synced write.
    ///
    /// Each rewrite is validated against the state left by the ones before it; refused
    /// ones are answered at once and take no sequence number. The rest are acknowledged
    /// only after the ledger's synced write returns; if it fails, the state is rebuilt
    /// from the ledger (which holds none of them) and each is answered with the error.
    pub fn commit(&mut self, batch: Vec<(Actor, Rewrite)>) -> Vec<Result<Commit, CommitError>> {
        if self.options.read_only {
            return batch.iter().map(|_| Err(CommitError::ReadOnly)).collect();
        }
        let mut results: Vec<Option<Result<Commit, CommitError>>> = Vec::with_capacity(batch.len());
        let mut pending = Vec::new();
        let mut records = Vec::new();
        let mut seq = self.ledger.head().seq;
        for (actor, rewrite) in batch {
            let payload = match payload::encode_rewrite(&rewrite) {
                Ok(payload) => payload,
                Err(e) => {
                    results.push(Some(Err(CommitError::Payload(e.to_string()))));
                    continue;
                }
            };
            let rewrites = std::slice::from_ref(&rewrite);
            match self
                .state
                .pool
                .commit_system(&mut self.state.graph, rewrites, seq + 1)
            {
                Ok(_) => {
                    seq += 1;
                    pending.push((results.len(), self.state.graph.digest()));
                    results.push(None);
                    records.push(NewRecord {
                        kind: KIND_REWRITE.to_owned(),
                        actor,
                        payload,
                    });
                }
                Err(SwsError::Rewrite(e)) => results.push(Some(Err(CommitError::Refused(e)))),
                Err(e) => results.push(Some(Err(CommitError::Payload(e.to_string())))),
            }
        }
        match self.ledger.append_batch(records) {
            Ok(committed) => {
                for ((slot, digest), record) in pending.into_iter().zip(committed) {
                    results[slot] = Some(Ok(Commit { record, digest }));
                }
                self.maybe_snapshot();
            }
            Err(e) => {
                let reason = e.to_string();
                tracing::error!(%reason, "durable write failed; rolling back");
                for (slot, _) in pending {
                    results[slot] = Some(Err(CommitError::Storage(reason.clone())));
                }
                // The graph and the pool's change logs already hold these rewrites; a fold
                // of the unchanged ledger takes all of it back exactly.
                self.restore_from_ledger();
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or(Err(CommitError::ShuttingDown)))
            .collect()
    }

    /// Rebuilds the state from the ledger after a failed write left it ahead of the
    /// durable records. If even that fails, the store is no longer trusted for writes.
    pub(crate) fn restore_from_ledger(&mut self) {
        match recovery::rebuild(&self.ledger, self.ledger.head().seq) {
            Ok((state, _)) => self.state = state,
            Err(error) => {
                tracing::error!(%error, "cannot rebuild the state after a failed write; refusing writes");
                self.options.read_only = true;
            }
        }
    }

    /// Appends the record of an operation, then lets `fold` bring the state up to it
    /// (what the operation did not change before it was recorded), and only then takes a
    /// due snapshot, so a snapshot always holds its last record. If the durable write
    /// fails, the state is rebuilt from the ledger, which never saw the operation.
    pub(crate) fn record_op(
        &mut self,
        actor: Actor,
        kind: &str,
        payload: Vec<u8>,
        fold: impl FnOnce(&mut State, u64) -> Result<(), KernelError>,
    ) -> Result<Record, KernelError> {
        let new = NewRecord {
            kind: kind.to_owned(),
            actor,
            payload,
        };
        let record = match self.ledger.append_batch(vec![new]) {
            Ok(mut records) => records
                .pop()
                .ok_or_else(|| KernelError::Payload("the ledger returned no record".to_owned()))?,
            Err(error) => {
                self.restore_from_ledger();
                return Err(KernelError::OpWrite(error));
            }
        };
        if let Err(error) = fold(&mut self.state, record.seq) {
            // The record is durable but does not fit the state it was checked against:
            // the state follows the ledger, which is the truth.
            self.restore_from_ledger();
            return Err(error);
        }
        self.maybe_snapshot();
        Ok(record)
    }

    pub(crate) fn maybe_snapshot(&mut self) {
        let every = self.options.snapshot_every;
        let head = self.ledger.head().seq;
        if every == 0 || head < self.last_snapshot_seq.unwrap_or(0) + every {
            return;
        }
        // A failed periodic snapshot costs only recovery time; the records are durable.
        if let Err(e) = self.snapshot() {
            tracing::warn!(error = %e, "periodic snapshot failed");
        }
    }

    /// Takes a snapshot of the live state now.
    pub fn snapshot(&mut self) -> Result<jitos_ledger::SnapshotMeta, KernelError> {
        if self.options.read_only {
            return Err(KernelError::ReadOnly);
        }
        let seq = self.ledger.head().seq;
        let state = self.state.encode_snapshot()?;
        self.ledger
            .put_snapshot(seq, self.state.graph.digest().0, &state)
            .map_err(KernelError::SnapshotWrite)?;
        self.last_snapshot_seq = Some(seq);
        let meta = self
            .ledger
            .snapshots()?
            .into_iter()
            .find(|meta| meta.seq == seq);
        meta.ok_or_else(|| KernelError::Payload(format!("snapshot at {seq} vanished after write")))
    }

    /// The live system graph.
    pub fn graph(&self) -> &Graph {
        &self.state.graph
    }

    /// The workspaces.
    pub fn pool(&self) -> &Pool {
        &self.state.pool
    }

    /// The ledger (read access for queries).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The ledger, for the kernel's own writes beside records (blobs).
    pub(crate) fn ledger_mut(&mut self) -> &mut Ledger {
        &mut self.ledger
    }

    /// The newest record.
    pub fn head(&self) -> Head {
        self.ledger.head()
    }

    /// Hash of the genesis record's store identity, as hex.
    pub fn store_id_hex(&self) -> String {
        Hash::hex_of(&self.ledger.genesis().store_id)
    }

    /// The data directory.
    pub fn dir(&self) -> &str {
        &self.dir
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &KernelOptions {
        &self.options
    }

    /// What recovery did at open.
    pub fn recovery(&self) -> &RecoveryReport {
        &self.recovery
    }

    /// The first bad record, when a broken store was opened read-only.
    pub fn broken_at(&self) -> Option<&(u64, String)> {
        self.broken_at.as_ref()
    }

    /// The newest snapshot's sequence number.
    pub fn last_snapshot_seq(&self) -> Option<u64> {
        self.last_snapshot_seq
    }

    /// The graph as of `seq` (inclusive); the live graph is cloned for the head.
    pub fn graph_at(&self, seq: u64) -> Result<Graph, KernelError> {
        if seq == self.ledger.head().seq && self.broken_at.is_none() {
            return Ok(self.state.graph.clone());
        }
        time_travel::state_at(&self.ledger, seq).map(|state| state.graph)
    }

    /// Every record that changed `node`.
    pub fn history(&self, node: &str) -> Result<Vec<HistoryStep>, KernelError> {
        time_travel::history(&self.ledger, node)
    }

    /// Up to `limit` records from `from` on.
    pub fn records(&self, from: u64, limit: u64) -> Result<Vec<Record>, KernelError> {
        let head = self.ledger.head().seq;
        if from > head || limit == 0 {
            return Ok(Vec::new());
        }
        let to = head.min(from.saturating_add(limit - 1));
        self.ledger
            .range(from, to)
            .map(|r| r.map_err(KernelError::from))
            .collect()
    }

    /// Walks the chain and proves every snapshot.
    pub fn verify(&self, progress: &mut dyn FnMut(u64)) -> Result<VerifyOutcome, KernelError> {
        verify::verify(&self.ledger, progress)
    }

    /// Folds the ledger from genesis in a fresh state and compares it with the live one.
    pub fn replay_verify(&self) -> Result<ReplayOutcome, KernelError> {
        let (replayed, records, decision_mismatch) = verify::replay_from_genesis(&self.ledger)?;
        Ok(ReplayOutcome {
            records,
            replayed: replayed.graph.digest(),
            live: self.state.graph.digest(),
            workspaces_match: replayed.pool == self.state.pool,
            jobs_match: replayed.jobs == self.state.jobs,
            processes_match: replayed.processes == self.state.processes,
            decision_mismatch,
        })
    }

    /// Writes records `from..=to` to a bundle file, with the blobs they name.
    pub fn export(
        &self,
        path: &Path,
        from: u64,
        to: u64,
    ) -> Result<jitos_ledger::BundleInfo, KernelError> {
        crate::bundle::export(&self.ledger, path, from, to)
    }
}
