//! The fold: how one record changes the state. Recovery, replay and time travel all use it.

use jitos_ledger::Record;
use jitos_warp::{Applied, Graph};

use crate::{payload, KernelError, KIND_GENESIS, KIND_REWRITE};

/// Applies one record to `graph`. Returns what a rewrite record did, `None` for records
/// that do not change the graph.
pub fn fold_record(graph: &mut Graph, record: &Record) -> Result<Option<Applied>, KernelError> {
    match record.kind.as_str() {
        KIND_GENESIS => Ok(None),
        KIND_REWRITE => {
            let rewrite = payload::decode_rewrite(&record.payload)?;
            graph
                .apply(&rewrite)
                .map(Some)
                .map_err(|source| KernelError::Replay {
                    seq: record.seq,
                    source,
                })
        }
        other => Err(KernelError::UnknownKind {
            seq: record.seq,
            kind: other.to_owned(),
        }),
    }
}
