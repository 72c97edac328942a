//! Recovery: the newest snapshot that proves itself, then the tail of the ledger.
//!
//! A snapshot is trusted only when its stored checksum holds, it decodes strictly, and the
//! digest recomputed from its content equals the digest recorded beside it. Anything else
//! is reported and skipped, never used.

use crate::{KernelError, State};
use jitos_ledger::Ledger;

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
    let mut report = RecoveryReport::default();
    let mut base: Option<(u64, State)> = None;
    for meta in ledger.snapshots()? {
        if meta.seq > target {
            continue;
        }
        match load_trusted(ledger, meta.seq, &meta.digest) {
            Ok(state) => {
                base = Some((meta.seq, state));
                break;
            }
            Err(reason) => {
                tracing::warn!(seq = meta.seq, %reason, "ignoring snapshot");
                report.ignored_snapshots.push((meta.seq, reason));
            }
        }
    }
    let (mut state, first) = match base {
        Some((seq, state)) => {
            report.snapshot_seq = Some(seq);
            (state, seq + 1)
        }
        None => (State::default(), 0),
    };
    if first <= target {
        for record in ledger.range(first, target) {
            state.fold(&record?)?;
            report.replayed_records += 1;
        }
    }
    Ok((state, report))
}

/// Loads a snapshot and proves it against its recorded digest; the error says why not.
pub(crate) fn load_trusted(ledger: &Ledger, seq: u64, digest: &[u8; 32]) -> Result<State, String> {
    let bytes = ledger.load_snapshot(seq).map_err(|e| e.to_string())?;
    prove_snapshot(&bytes, digest).map_err(|why| format!("snapshot at seq {seq} {why}"))
}

/// Decodes a snapshot's state and checks its graph hashes to the digest recorded beside
/// it (the pool section is covered by the ledger's checksum of the stored snapshot).
pub(crate) fn prove_snapshot(bytes: &[u8], digest: &[u8; 32]) -> Result<State, String> {
    let state = State::decode_snapshot(bytes).map_err(|e| format!("does not decode: {e}"))?;
    if &state.graph.digest().0 != digest {
        return Err(format!(
            "does not match its digest: content hashes to {}, recorded {}",
            state.graph.digest(),
            jitos_warp::StateDigest(*digest)
        ));
    }
    Ok(state)
}
