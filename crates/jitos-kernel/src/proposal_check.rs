//! Whether a proposal stays within what its job may change: the effect class and the
//! path prefixes decided at dispatch.

use jitos_tree::{tree_path_of_id, within_prefixes, DIR_KIND, FILE_KIND, SYMLINK_KIND};
use jitos_warp::{NodeId, Op, Rewrite};

use crate::job_record::{Dispatch, Effect};

/// Checks every op of `rewrites` against the dispatch's effect and paths; the error is the
/// reason recorded with the refusal.
pub(crate) fn check_scope(dispatch: &Dispatch, rewrites: &[Rewrite]) -> Result<(), String> {
    for (index, rewrite) in rewrites.iter().enumerate() {
        for op in &rewrite.ops {
            check_op(dispatch, op).map_err(|why| format!("rewrite {index}: {why}"))?;
        }
    }
    Ok(())
}

fn check_op(dispatch: &Dispatch, op: &Op) -> Result<(), String> {
    if let Op::AddNode { id, kind, .. } = op {
        let tree_kind = [DIR_KIND, FILE_KIND, SYMLINK_KIND].contains(&kind.as_str());
        if tree_kind && tree_path_of_id(id).is_none() {
            return Err(format!(
                "node {id} has the file-tree kind {kind:?} but not a file-tree id"
            ));
        }
    }
    if dispatch.effect == Effect::GraphOnly {
        // Either end of an edge at a file-tree node changes how the tree reads back.
        if let Op::AddEdge { from, .. } | Op::RemoveEdge { from, .. } = op {
            if let Some(path) = tree_path_of_id(from) {
                return Err(graph_only_refusal(dispatch, path));
            }
        }
    }
    // A `contains` edge changes its child entry; its parent directory is only the place.
    let touched: &NodeId = match op {
        Op::AddNode { id, .. } | Op::RemoveNode { id, .. } => id,
        Op::SetAttr { node, .. } | Op::RemoveAttr { node, .. } => node,
        Op::AddEdge { to, .. } | Op::RemoveEdge { to, .. } => to,
    };
    let Some(path) = tree_path_of_id(touched) else {
        return Ok(());
    };
    match dispatch.effect {
        Effect::GraphOnly => Err(graph_only_refusal(dispatch, path)),
        Effect::Files if within_prefixes(path, &dispatch.paths) => Ok(()),
        Effect::Files => Err(format!(
            "it changes {path}, outside the paths this job may touch ({})",
            dispatch.paths.join(", ")
        )),
    }
}

fn graph_only_refusal(dispatch: &Dispatch, path: &str) -> String {
    format!(
        "it changes the file {path}, but worker {} may not change files (effect class `none`)",
        dispatch.worker
    )
}
