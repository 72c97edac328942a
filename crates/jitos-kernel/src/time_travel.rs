//! Time travel: the graph as of any sequence number, and the history of one node.

use std::sync::Arc;

use jitos_ledger::{Ledger, Record};
use jitos_warp::Node;

use crate::{
    index::{self, NodeAfter},
    past_graphs::{PagedGraph, PastGraphs},
    recovery, KernelError, State,
};

/// One record that changed a node, with the node as it stood after it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryStep {
    /// The record.
    pub record: Record,
    /// The node after the record; `None` when the record removed it.
    pub node_after: Option<Node>,
}

/// The state as of `seq` (inclusive).
pub(crate) fn state_at(ledger: &Ledger, seq: u64) -> Result<State, KernelError> {
    within_head(ledger, seq)?;
    recovery::rebuild(ledger, seq).map(|(state, _)| state)
}

/// The graph as of `seq` (inclusive): kept in `past` from a recent read, or rebuilt —
/// from the nearest of the kept states and snapshots before it — and kept there.
pub(crate) fn graph_at(
    ledger: &Ledger,
    past: &PastGraphs,
    seq: u64,
) -> Result<Arc<PagedGraph>, KernelError> {
    within_head(ledger, seq)?;
    if let Some(kept) = past.get(seq) {
        return Ok(kept);
    }
    let (state, _) = recovery::rebuild_over(ledger, seq, past.base_below(seq))?;
    Ok(past.keep(seq, state))
}

fn within_head(ledger: &Ledger, seq: u64) -> Result<(), KernelError> {
    let head = ledger.head().seq;
    if seq > head {
        return Err(KernelError::BeyondHead { seq, head });
    }
    Ok(())
}

/// Every record that changed `node`: its existence, attributes or incident edges. From
/// the index when the store has one, reading O(those records); for a node too large to
/// index, and without the index, by one fold of the ledger.
pub(crate) fn history(ledger: &Ledger, node: &str) -> Result<Vec<HistoryStep>, KernelError> {
    if !index::usable(ledger) {
        return history_by_fold(ledger, node);
    }
    let found = ledger.index_scan(&index::node_key(node), None, usize::MAX)?;
    let mut steps = Vec::with_capacity(found.len());
    for (seq, value) in found {
        let node_after = match index::read_node_value(seq, &value)? {
            NodeAfter::Gone => None,
            NodeAfter::Held(node) => Some(node),
            // Too large to index: one fold answers every step at once.
            NodeAfter::Omitted => return history_by_fold(ledger, node),
        };
        let record = ledger
            .get(seq)?
            .ok_or(jitos_ledger::ReadError::MissingRecord { seq })?;
        steps.push(HistoryStep { record, node_after });
    }
    Ok(steps)
}

/// [`history`] of a store without the index (opened read-only before it was indexed):
/// folds the ledger from genesis, because only the fold knows exactly what a rewrite
/// touched (a cascading removal changes the neighbours of the removed node too).
fn history_by_fold(ledger: &Ledger, node: &str) -> Result<Vec<HistoryStep>, KernelError> {
    let mut state = State::default();
    let mut steps = Vec::new();
    for record in ledger.range(0, ledger.head().seq) {
        let record = record?;
        let folded = state.fold(&record)?;
        if folded
            .applied
            .iter()
            .any(|one| one.touched().iter().any(|id| id.as_str() == node))
        {
            steps.push(HistoryStep {
                node_after: state.graph.node(node).cloned(),
                record,
            });
        }
    }
    Ok(steps)
}
