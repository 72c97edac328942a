//! A workspace's net changes against its base: `diff` for display, `rewrites` for
//! collapse.

use std::collections::{BTreeMap, BTreeSet};

use jitos_warp::{Edge, NodeId, Op, Rewrite, Value, OPS_PER_REWRITE_MAX};
use serde::{Deserialize, Serialize};

use crate::{Key, KeyValue, NodeEntry, Overlay, View};

/// One key whose value differs between a workspace's base and its current state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDiff {
    /// The key.
    pub key: Key,
    /// Its value in the base.
    pub base: KeyValue,
    /// Its value in the workspace.
    pub now: KeyValue,
}

/// Every overlay key whose value differs from the base's, in key order. O(overlay).
pub(crate) fn diff(base: &dyn View, overlay: &Overlay) -> Vec<KeyDiff> {
    let mut out = Vec::new();
    let mut push = |key: Key, now: KeyValue| {
        let was = base.value(&key);
        if was != now {
            out.push(KeyDiff {
                key,
                base: was,
                now,
            });
        }
    };
    // `Key` orders node keys, then attribute keys, then edge keys, so three ordered
    // passes give key order.
    for (id, entry) in overlay.nodes() {
        match entry {
            NodeEntry::Removed => push(Key::Node(id.clone()), KeyValue::Node(None)),
            NodeEntry::Added { kind, .. } => {
                push(Key::Node(id.clone()), KeyValue::Node(Some(kind.clone())));
            }
            NodeEntry::Bumped { .. } => {}
        }
    }
    for (id, attrs) in overlay.attrs() {
        for (attr, value) in attrs {
            push(
                Key::Attr(id.clone(), attr.clone()),
                KeyValue::Attr(value.clone()),
            );
        }
    }
    for (edge, present) in overlay.edges() {
        push(Key::Edge(edge.clone()), KeyValue::Edge(*present));
    }
    out
}

/// The ops that take the base to the workspace's state, in an order that validates.
#[derive(Default)]
struct Plan {
    remove_edges: BTreeSet<Edge>,
    remove_attrs: BTreeSet<(NodeId, String)>,
    remove_nodes: BTreeSet<NodeId>,
    add_nodes: BTreeSet<NodeId>,
    set_attrs: BTreeMap<(NodeId, String), Value>,
    add_edges: BTreeSet<Edge>,
}

/// Rewrites that take a target holding the base's values of the workspace's footprint to
/// the workspace's state: edges removed, attributes removed, nodes removed, nodes added
/// (with their attributes), attributes set, edges added; split to stay within
/// `OPS_PER_REWRITE_MAX`. O(overlay + attributes and edges of replaced nodes).
///
/// A node whose kind changed is removed and added again: its base edges are removed
/// first and its current ones added after. A node removed and added again with the
/// same kind is changed key by key instead.
pub(crate) fn rewrites(base: &dyn View, now: &dyn View, diffs: &[KeyDiff]) -> Vec<Rewrite> {
    let mut plan = Plan::default();
    let mut replaced = BTreeSet::new();
    for KeyDiff {
        key,
        base: was,
        now: is,
    } in diffs
    {
        let Key::Node(id) = key else { continue };
        if matches!(was, KeyValue::Node(Some(_))) {
            plan.remove_nodes.insert(id.clone());
        }
        if matches!(is, KeyValue::Node(Some(_))) {
            plan.add_nodes.insert(id.clone());
            if matches!(was, KeyValue::Node(Some(_))) {
                replaced.insert(id.clone());
            }
        }
    }
    for KeyDiff { key, now: is, .. } in diffs {
        match (key, is) {
            (Key::Attr(id, attr), KeyValue::Attr(value)) => {
                // A removed node's attributes go with it; an added one's come with it.
                if plan.remove_nodes.contains(id) || plan.add_nodes.contains(id) {
                    continue;
                }
                let at = (id.clone(), attr.clone());
                match value {
                    Some(value) => {
                        plan.set_attrs.insert(at, value.clone());
                    }
                    None => {
                        plan.remove_attrs.insert(at);
                    }
                }
            }
            (Key::Edge(edge), KeyValue::Edge(present)) => {
                if replaced.contains(&edge.from) || replaced.contains(&edge.to) {
                    continue;
                }
                // A diff differs from the base, so an absent edge was present there.
                if *present {
                    plan.add_edges.insert(edge.clone());
                } else {
                    plan.remove_edges.insert(edge.clone());
                }
            }
            _ => {}
        }
    }
    for id in &replaced {
        // Removing the node needs every base edge gone, even those it has again now (which
        // an overlay need not list: a removal and re-add nets to no entry), and re-adding
        // it needs every edge it has now.
        plan.remove_edges.extend(base.edges_of(id));
        plan.add_edges.extend(now.edges_of(id));
    }
    chunk(plan.ops(now))
}

impl Plan {
    fn ops(self, now: &dyn View) -> Vec<Op> {
        let mut ops = Vec::new();
        ops.extend(self.remove_edges.into_iter().map(|edge| Op::RemoveEdge {
            from: edge.from,
            to: edge.to,
            label: edge.label,
        }));
        ops.extend(
            self.remove_attrs
                .into_iter()
                .map(|(node, key)| Op::RemoveAttr { node, key }),
        );
        ops.extend(
            self.remove_nodes
                .into_iter()
                .map(|id| Op::RemoveNode { id, cascade: false }),
        );
        ops.extend(self.add_nodes.into_iter().filter_map(|id| {
            now.node(&id).map(|node| Op::AddNode {
                id,
                kind: node.kind,
                attrs: node.attrs,
            })
        }));
        ops.extend(
            self.set_attrs
                .into_iter()
                .map(|((node, key), value)| Op::SetAttr { node, key, value }),
        );
        ops.extend(self.add_edges.into_iter().map(|edge| Op::AddEdge {
            from: edge.from,
            to: edge.to,
            label: edge.label,
        }));
        ops
    }
}

/// Splits ops, in order, into rewrites of at most `OPS_PER_REWRITE_MAX` ops. Every op
/// makes one change (no cascades), so each rewrite also stays within
/// `CHANGES_PER_REWRITE_MAX`.
fn chunk(ops: Vec<Op>) -> Vec<Rewrite> {
    let mut rewrites = Vec::new();
    let mut ops = ops.into_iter().peekable();
    while ops.peek().is_some() {
        rewrites.push(Rewrite {
            ops: ops.by_ref().take(OPS_PER_REWRITE_MAX).collect(),
            expect: Vec::new(),
        });
    }
    rewrites
}
