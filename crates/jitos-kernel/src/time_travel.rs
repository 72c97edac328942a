//! Time travel: the graph as of any sequence number, and the history of one node.

use jitos_ledger::{Ledger, Record};
use jitos_warp::{Graph, Node};

use crate::{fold_record, recovery, KernelError};

/// One record that changed a node, with the node as it stood after it.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryStep {
    /// The record.
    pub record: Record,
    /// The node after the record; `None` when the record removed it.
    pub node_after: Option<Node>,
}

/// The graph as of `seq` (inclusive).
pub(crate) fn graph_at(ledger: &Ledger, seq: u64) -> Result<Graph, KernelError> {
    let head = ledger.head().seq;
    if seq > head {
        return Err(KernelError::BeyondHead { seq, head });
    }
    recovery::rebuild(ledger, seq).map(|(graph, _)| graph)
}

/// Every record that changed `node`: its existence, attributes or incident edges.
///
/// This folds the ledger from genesis, because only the fold knows exactly what a rewrite
/// touched (a cascading removal changes the neighbours of the removed node too).
pub(crate) fn history(ledger: &Ledger, node: &str) -> Result<Vec<HistoryStep>, KernelError> {
    let mut graph = Graph::new();
    let mut steps = Vec::new();
    for record in ledger.range(0, ledger.head().seq) {
        let record = record?;
        let Some(applied) = fold_record(&mut graph, &record)? else {
            continue;
        };
        if applied.touched().iter().any(|id| id.as_str() == node) {
            steps.push(HistoryStep {
                node_after: graph.node(node).cloned(),
                record,
            });
        }
    }
    Ok(steps)
}
