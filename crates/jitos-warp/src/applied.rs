//! `Applied`: the undo log of one apply, its inverse rewrite, and `Graph::undo`.

use std::{collections::BTreeSet, sync::OnceLock};

use crate::{digest::Accumulator, graph::Slot, Edge, Graph, Node, NodeId, Op, Rewrite, Value};

/// What one successful `Graph::apply` did: enough to undo it exactly.
#[derive(Debug, Clone)]
pub struct Applied {
    pub(crate) changes: Vec<Change>,
    /// The attribute keys of `AttrSet` changes, end to end: one buffer instead of one
    /// allocation per op on the hot path.
    pub(crate) keys: KeyArena,
    /// Computed on first use: sorting ids costs as much as the ops themselves, and most
    /// callers (commit, replay) never ask.
    pub(crate) touched: OnceLock<BTreeSet<NodeId>>,
    pub(crate) acc_before: Accumulator,
    pub(crate) state_before: u64,
    pub(crate) state_after: u64,
}

/// Strings stored end to end, each named by a `KeyRef`.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeyArena(String);

/// A string in a `KeyArena`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef {
    start: u32,
    len: u32,
}

impl KeyArena {
    /// Stores a key. Limits bound the arena to `OPS_PER_REWRITE_MAX` keys of at most
    /// `ATTR_KEY_BYTES_MAX` bytes (16 MiB), well within `u32`.
    pub(crate) fn push(&mut self, key: &str) -> KeyRef {
        let start = u32::try_from(self.0.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
        self.0.push_str(key);
        KeyRef { start, len }
    }

    /// The key a `KeyRef` names; empty for a reference from another arena.
    pub(crate) fn get(&self, key: KeyRef) -> &str {
        let start = key.start as usize;
        self.0
            .get(start..start.saturating_add(key.len as usize))
            .unwrap_or_default()
    }
}

/// One change, with what is needed to revert it. Versions are those before the op.
#[derive(Debug, Clone)]
pub(crate) enum Change {
    NodeAdded {
        id: NodeId,
    },
    /// The node as it was, attributes and version included. Its edges were logged as
    /// `EdgeRemoved` just before, so reverting in reverse order re-adds the node first.
    NodeRemoved {
        node: Box<Node>,
    },
    AttrSet {
        node: NodeId,
        key: KeyRef,
        old: Option<Value>,
        version: u64,
    },
    AttrRemoved {
        node: NodeId,
        key: String,
        old: Value,
        version: u64,
    },
    EdgeAdded {
        edge: Edge,
        versions: (u64, u64),
    },
    EdgeRemoved {
        edge: Edge,
        versions: (u64, u64),
    },
}

impl Applied {
    /// Every node whose existence, attributes or incident edges changed, in id order.
    pub fn touched(&self) -> &BTreeSet<NodeId> {
        self.touched.get_or_init(|| touched_by(&self.changes))
    }

    /// Whether the apply changed nothing (for example, it only set values already held).
    pub fn is_noop(&self) -> bool {
        self.changes.is_empty()
    }

    /// A rewrite that, applied right after this one, restores the previous content and
    /// so the previous digest. Versions keep counting up: to restore them too, use
    /// `Graph::undo`. The inverse carries no expects and always validates.
    pub fn inverse(&self) -> Rewrite {
        let ops = self
            .changes
            .iter()
            .rev()
            .map(|change| match change {
                Change::NodeAdded { id } => Op::RemoveNode {
                    id: id.clone(),
                    cascade: false,
                },
                Change::NodeRemoved { node } => Op::AddNode {
                    id: node.id.clone(),
                    kind: node.kind.clone(),
                    attrs: node.attrs.clone(),
                },
                Change::AttrSet {
                    node,
                    key,
                    old: Some(old),
                    ..
                } => Op::SetAttr {
                    node: node.clone(),
                    key: self.keys.get(*key).to_owned(),
                    value: old.clone(),
                },
                Change::AttrSet {
                    node,
                    key,
                    old: None,
                    ..
                } => Op::RemoveAttr {
                    node: node.clone(),
                    key: self.keys.get(*key).to_owned(),
                },
                Change::AttrRemoved { node, key, old, .. } => Op::SetAttr {
                    node: node.clone(),
                    key: key.clone(),
                    value: old.clone(),
                },
                Change::EdgeAdded { edge, .. } => Op::RemoveEdge {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    label: edge.label.clone(),
                },
                Change::EdgeRemoved { edge, .. } => Op::AddEdge {
                    from: edge.from.clone(),
                    to: edge.to.clone(),
                    label: edge.label.clone(),
                },
            })
            .collect();
        Rewrite {
            ops,
            expect: Vec::new(),
        }
    }
}

/// The nodes a list of changes touched, each once, in id order.
fn touched_by(changes: &[Change]) -> BTreeSet<NodeId> {
    let mut ids = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::NodeAdded { id } => ids.push(id.clone()),
            Change::NodeRemoved { node } => ids.push(node.id.clone()),
            Change::AttrSet { node, .. } | Change::AttrRemoved { node, .. } => {
                ids.push(node.clone());
            }
            Change::EdgeAdded { edge, .. } | Change::EdgeRemoved { edge, .. } => {
                ids.push(edge.from.clone());
                ids.push(edge.to.clone());
            }
        }
    }
    ids.sort_unstable();
    ids.dedup();
    // Sorted input lets the set build in one pass.
    ids.into_iter().collect()
}

impl Graph {
    /// Reverts `applied`, restoring the graph exactly as it was before that apply:
    /// content, digest and versions.
    ///
    /// `applied` must be the latest apply on this graph not yet undone; undo several in
    /// reverse order. Any other is a caller bug: debug builds panic on it, release builds
    /// leave the graph untouched rather than corrupt it.
    pub fn undo(&mut self, applied: Applied) {
        debug_assert_eq!(
            self.state, applied.state_after,
            "undo must revert the latest apply not yet undone"
        );
        if self.state != applied.state_after {
            return;
        }
        self.revert(applied.changes, &applied.keys);
        self.acc = applied.acc_before;
        self.state = applied.state_before;
    }

    /// Reverts changes newest first. Leaves the digest to the caller, which restores the
    /// accumulator it saved.
    pub(crate) fn revert(&mut self, changes: Vec<Change>, keys: &KeyArena) {
        for change in changes.into_iter().rev() {
            match change {
                Change::NodeAdded { id } => {
                    self.slots.remove(id.as_str());
                }
                Change::NodeRemoved { node } => {
                    self.slots.insert(
                        node.id.clone(),
                        Slot {
                            node: *node,
                            degree: 0,
                        },
                    );
                }
                Change::AttrSet {
                    node,
                    key,
                    old,
                    version,
                } => {
                    if let Some(slot) = self.slots.get_mut(node.as_str()) {
                        let key = keys.get(key);
                        match old {
                            Some(old) => {
                                if let Some(value) = slot.node.attrs.get_mut(key) {
                                    *value = old;
                                }
                            }
                            None => {
                                slot.node.attrs.remove(key);
                            }
                        }
                        slot.node.version = version;
                    }
                }
                Change::AttrRemoved {
                    node,
                    key,
                    old,
                    version,
                } => {
                    if let Some(slot) = self.slots.get_mut(node.as_str()) {
                        slot.node.attrs.insert(key, old);
                        slot.node.version = version;
                    }
                }
                Change::EdgeAdded { edge, versions } => {
                    self.unlink(&edge);
                    self.set_versions(&edge, versions);
                }
                Change::EdgeRemoved { edge, versions } => {
                    self.set_versions(&edge, versions);
                    self.link(edge);
                }
            }
        }
    }

    fn set_versions(&mut self, edge: &Edge, (from, to): (u64, u64)) {
        for (id, version) in [(&edge.from, from), (&edge.to, to)] {
            if let Some(slot) = self.slots.get_mut(id.as_str()) {
                slot.node.version = version;
            }
        }
    }
}
