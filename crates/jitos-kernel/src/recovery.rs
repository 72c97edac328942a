//! Recovery: the newest snapshot that proves itself, then the tail of the ledger.
//!
//! A snapshot is trusted only when its stored checksum holds, it decodes strictly, and the
//! digest recomputed from its content equals the digest recorded beside it. Anything else
//! is reported and skipped, never used.

use jitos_ledger::Ledger;
use jitos_warp::Graph;

use crate::{fold_record, KernelError};

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
) -> Result<(Graph, RecoveryReport), KernelError> {
    let mut report = RecoveryReport::default();
    let mut base: Option<(u64, Graph)> = None;
    for meta in ledger.snapshots()? {
        if meta.seq > target {
            continue;
        }
        match load_trusted(ledger, meta.seq, &meta.digest) {
            Ok(graph) => {
                base = Some((meta.seq, graph));
                break;
            }
            Err(reason) => {
                tracing::warn!(seq = meta.seq, %reason, "ignoring snapshot");
                report.ignored_snapshots.push((meta.seq, reason));
            }
        }
    }
    let (mut graph, first) = match base {
        Some((seq, graph)) => {
            report.snapshot_seq = Some(seq);
            (graph, seq + 1)
        }
        None => (Graph::new(), 0),
    };
    if first <= target {
        for record in ledger.range(first, target) {
            fold_record(&mut graph, &record?)?;
            report.replayed_records += 1;
        }
    }
    Ok((graph, report))
}

/// Loads a snapshot and proves it against its recorded digest; the error says why not.
pub(crate) fn load_trusted(ledger: &Ledger, seq: u64, digest: &[u8; 32]) -> Result<Graph, String> {
    let bytes = ledger.load_snapshot(seq).map_err(|e| e.to_string())?;
    prove_snapshot(&bytes, digest).map_err(|why| format!("snapshot at seq {seq} {why}"))
}

/// Decodes a snapshot's state and checks it hashes to the digest recorded beside it.
pub(crate) fn prove_snapshot(state: &[u8], digest: &[u8; 32]) -> Result<Graph, String> {
    let graph = Graph::decode_snapshot(state).map_err(|e| format!("does not decode: {e}"))?;
    if &graph.digest().0 != digest {
        return Err(format!(
            "does not match its digest: content hashes to {}, recorded {}",
            graph.digest(),
            jitos_warp::StateDigest(*digest)
        ));
    }
    Ok(graph)
}
