//! Recovery: the newest snapshot that proves itself, then the tail of the ledger.
//!
//! A snapshot is trusted only when its stored checksum holds, it decodes strictly, and the
//! digests recomputed from its content equal those recorded (`snapshot::prove`). Anything
//! else is reported and skipped, never used.

use jitos_ledger::{Ledger, Record};

use crate::{snapshot, KernelError, State};

/// What recovery did, for `status` and the daemon's start-up log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// The snapshot recovery started from, if any.
    pub snapshot_seq: Option<u64>,
    /// Records folded after the snapshot.
    pub replayed_records: u64,
    /// Snapshots that were skipped, with a sentence (naming the seq) on why.
    pub ignored_snapshots: Vec<(u64, String)>,
}

/// Rebuilds the state as of `target` (inclusive) from the best snapshot at or below it.
pub(crate) fn rebuild(
    ledger: &Ledger,
    target: u64,
) -> Result<(State, RecoveryReport), KernelError> {
    rebuild_over(ledger, target, None)
}

/// As [`rebuild`], from `known` (a state and its seq, below `target`) unless a snapshot
/// is nearer `target`.
pub(crate) fn rebuild_over(
    ledger: &Ledger,
    target: u64,
    known: Option<(u64, State)>,
) -> Result<(State, RecoveryReport), KernelError> {
    let mut report = RecoveryReport::default();
    let known_seq = known.as_ref().map(|(seq, _)| *seq);
    let mut base: Option<(u64, State)> = None;
    for meta in ledger.snapshots()? {
        if meta.seq > target {
            continue;
        }
        // Newest first: every snapshot from here on is as far as `known`, or further.
        if known_seq.is_some_and(|known| known >= meta.seq) {
            break;
        }
        match load_trusted(ledger, meta.seq, &meta.digest) {
            Ok(state) => {
                base = Some((meta.seq, state));
                break;
            }
            Err(refusal) => {
                let reason = refusal.reason().to_owned();
                tracing::warn!(seq = meta.seq, %reason, "ignoring snapshot");
                report.ignored_snapshots.push((meta.seq, reason));
            }
        }
    }
    let (mut state, first) = match (base, known) {
        (Some((seq, state)), _) => {
            report.snapshot_seq = Some(seq);
            (state, seq + 1)
        }
        (None, Some((seq, state))) => (state, seq + 1),
        (None, None) => (State::default(), 0),
    };
    if first <= target {
        for record in ledger.range(first, target) {
            fold_named(&mut state, &record?)?;
            report.replayed_records += 1;
        }
    }
    Ok((state, report))
}

/// Folds `record` into `state`; a payload that cannot be read is named by its seq and kind,
/// so a person knows which record stops the store from opening.
pub(crate) fn fold_named(state: &mut State, record: &Record) -> Result<crate::Folded, KernelError> {
    match state.fold(record) {
        Ok(folded) => Ok(folded),
        Err(KernelError::Durable(reason)) => Err(KernelError::RecordPayload {
            seq: record.seq,
            kind: record.kind.clone(),
            reason,
        }),
        Err(other) => Err(other),
    }
}

/// Loads a snapshot and proves it; the refusal says why not, naming the seq.
pub(crate) fn load_trusted(
    ledger: &Ledger,
    seq: u64,
    digest: &[u8; 32],
) -> Result<State, snapshot::Refusal> {
    let bytes = ledger
        .load_snapshot(seq)
        .map_err(|e| snapshot::Refusal::Bad(e.to_string()))?;
    snapshot::prove(&bytes, digest).map_err(|refusal| refusal.of_seq(seq))
}
