//! `sync_rewrite`: the one rewrite that turns a recorded tree into a wanted one.

use jitos_warp::{NodeId, Op, Rewrite, CHANGES_PER_REWRITE_MAX, OPS_PER_REWRITE_MAX};

use crate::error::TreeError;
use crate::layout::{node_id_of, CONTAINS_LABEL};
use crate::path::TreePath;
use crate::tree::Tree;

/// The rewrite that makes the nodes recording `current` record `wanted` instead: entries
/// gone or changed in kind are removed (with their edges), new ones added under their
/// parent, changed entries of the same kind updated attribute by attribute. Unchanged entries cost nothing,
/// so importing the same directory twice records an empty rewrite.
pub fn sync_rewrite(current: &Tree, wanted: &Tree) -> Result<Rewrite, TreeError> {
    wanted.check_parents()?;
    let mut removes = Vec::new();
    let mut adds = Vec::new();
    let mut sets = Vec::new();
    for (path, entry) in &current.entries {
        match wanted.entries.get(path) {
            Some(new) if new.kind() == entry.kind() => {}
            _ => removes.push(Op::RemoveNode {
                id: id_of(path, entry.is_dir())?,
                cascade: true,
            }),
        }
    }
    for (path, entry) in &wanted.entries {
        let id = id_of(path, entry.is_dir())?;
        match current.entries.get(path) {
            Some(old) if old.kind() == entry.kind() => {
                if old != entry {
                    let old_attrs = old.attrs(path);
                    for (key, value) in entry.attrs(path) {
                        if old_attrs.get(&key) != Some(&value) {
                            sets.push(Op::SetAttr {
                                node: id.clone(),
                                key,
                                value,
                            });
                        }
                    }
                }
            }
            _ => {
                adds.push(Op::AddNode {
                    id: id.clone(),
                    kind: entry.kind().to_owned(),
                    attrs: entry.attrs(path),
                });
                if let Some(parent) = path.parent() {
                    adds.push(Op::AddEdge {
                        from: id_of(&parent, true)?,
                        to: id,
                        label: CONTAINS_LABEL.to_owned(),
                    });
                }
            }
        }
    }
    let ops = removes.len() + adds.len() + sets.len();
    // A cascading removal also removes the edge into the node: count it against the limit.
    let changes = ops + removes.len();
    if ops > OPS_PER_REWRITE_MAX || changes > CHANGES_PER_REWRITE_MAX {
        return Err(TreeError::TooManyOps {
            ops: changes,
            max: CHANGES_PER_REWRITE_MAX.min(OPS_PER_REWRITE_MAX),
        });
    }
    let mut all = removes;
    all.extend(adds);
    all.extend(sets);
    Ok(Rewrite {
        ops: all,
        expect: Vec::new(),
    })
}

fn id_of(path: &TreePath, is_dir: bool) -> Result<NodeId, TreeError> {
    node_id_of(path, is_dir).map_err(|error| TreeError::BadPath {
        path: path.to_string(),
        reason: match error {
            jitos_warp::IdError::TooLong { .. } => "it is too long to name a node",
            _ => "it cannot name a node",
        },
    })
}
