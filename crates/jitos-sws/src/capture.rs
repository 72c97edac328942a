//! `Capture`: the keys a batch of rewrites can touch and their values before it runs, and
//! `Changes`: which of them it actually changed, read off the state after.

use std::collections::{BTreeMap, BTreeSet};

use jitos_warp::{Edge, Expect, Node, NodeId, Op, Rewrite, Value};

use crate::{Key, KeyValue, View};

/// The state a batch of rewrites can touch or check, as it was before the batch.
#[derive(Debug, Clone)]
pub(crate) struct Capture {
    /// Every node the batch names, in ops or expects, and every neighbour of a node it
    /// removes: `None` when absent.
    pub(crate) nodes: BTreeMap<NodeId, Option<Node>>,
    /// Every key an op can change, with its value before.
    pub(crate) keys: BTreeMap<Key, KeyValue>,
    /// Edges present before that the batch names or can remove, so that a scratch graph
    /// holding them validates exactly as the full graph would.
    pub(crate) edges: BTreeSet<Edge>,
    /// Nodes an `add_node` of the batch creates (possibly again, after a removal).
    pub(crate) added: BTreeSet<NodeId>,
}

/// What a batch changed: only keys whose value differs before and after (an add then a
/// remove inside one batch is no change), and nodes whose version or life changed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Changes {
    /// Key, value before, value after.
    pub(crate) keys: Vec<(Key, KeyValue, KeyValue)>,
    /// Nodes whose version changed or that were created afresh.
    pub(crate) nodes: Vec<NodeChange>,
}

/// One node's version (0 for absent) before and after, and its state after.
#[derive(Debug, Clone)]
pub(crate) struct NodeChange {
    pub(crate) id: NodeId,
    pub(crate) version_before: u64,
    /// Kind and version after, `None` when absent after.
    pub(crate) after: Option<(String, u64)>,
    /// Created by an `add_node` of the batch: nothing of an earlier node shows through.
    pub(crate) fresh: bool,
    /// A fresh node's attributes after, all of them: one equal to the removed node's
    /// is no change of its key, yet must be written, since nothing shows through.
    pub(crate) fresh_attrs: BTreeMap<String, Value>,
}

impl Capture {
    /// Reads what `rewrites`, applied in order to `before`, can touch. O(size of the
    /// rewrites + attributes and edges of the nodes they remove).
    pub(crate) fn new(before: &dyn View, rewrites: &[Rewrite]) -> Capture {
        let mut capture = Capture {
            nodes: BTreeMap::new(),
            keys: BTreeMap::new(),
            edges: BTreeSet::new(),
            added: BTreeSet::new(),
        };
        for rewrite in rewrites {
            for expect in &rewrite.expect {
                capture.expect(before, expect);
            }
            for op in &rewrite.ops {
                capture.op(before, op);
            }
        }
        capture
    }

    fn node<'a>(&'a mut self, before: &dyn View, id: &NodeId) -> Option<&'a Node> {
        self.nodes
            .entry(id.clone())
            .or_insert_with(|| before.node(id))
            .as_ref()
    }

    fn key(&mut self, before: &dyn View, key: Key) {
        if self.keys.contains_key(&key) {
            return;
        }
        let value = match &key {
            Key::Node(id) => KeyValue::Node(self.node(before, id).map(|node| node.kind.clone())),
            Key::Attr(id, attr) => KeyValue::Attr(
                self.node(before, id)
                    .and_then(|node| node.attrs.get(attr).cloned()),
            ),
            Key::Edge(edge) => {
                self.node(before, &edge.from);
                self.node(before, &edge.to);
                let present = before.has_edge(edge);
                if present {
                    self.edges.insert(edge.clone());
                }
                KeyValue::Edge(present)
            }
        };
        self.keys.insert(key, value);
    }

    fn expect(&mut self, before: &dyn View, expect: &Expect) {
        match expect {
            Expect::NodeExists { node }
            | Expect::NodeAbsent { node }
            | Expect::AttrEquals { node, .. }
            | Expect::AttrAbsent { node, .. }
            | Expect::NodeVersion { node, .. } => {
                self.node(before, node);
            }
            Expect::EdgeExists { from, to, label } | Expect::EdgeAbsent { from, to, label } => {
                self.node(before, from);
                self.node(before, to);
                let edge = edge(from, label, to);
                if before.has_edge(&edge) {
                    self.edges.insert(edge);
                }
            }
        }
    }

    fn op(&mut self, before: &dyn View, op: &Op) {
        match op {
            Op::AddNode { id, attrs, .. } => {
                self.added.insert(id.clone());
                self.key(before, Key::Node(id.clone()));
                for attr in attrs.keys() {
                    self.key(before, Key::Attr(id.clone(), attr.clone()));
                }
            }
            Op::RemoveNode { id, .. } => {
                self.key(before, Key::Node(id.clone()));
                let attrs: Vec<String> = self
                    .node(before, id)
                    .map(|node| node.attrs.keys().cloned().collect())
                    .unwrap_or_default();
                for attr in attrs {
                    self.key(before, Key::Attr(id.clone(), attr));
                }
                for edge in before.edges_of(id) {
                    self.key(before, Key::Edge(edge));
                }
            }
            Op::SetAttr { node, key, .. } | Op::RemoveAttr { node, key } => {
                self.key(before, Key::Attr(node.clone(), key.clone()));
            }
            Op::AddEdge { from, to, label } | Op::RemoveEdge { from, to, label } => {
                self.key(before, Key::Edge(edge(from, label, to)));
            }
        }
    }

    /// What the batch changed, read off the state after it.
    pub(crate) fn changes(&self, after: &dyn View) -> Changes {
        let keys = self
            .keys
            .iter()
            .filter_map(|(key, before)| {
                let now = after.value(key);
                (now != *before).then(|| (key.clone(), before.clone(), now))
            })
            .collect();
        let nodes = self
            .nodes
            .iter()
            .filter_map(|(id, before)| {
                let version_before = before.as_ref().map_or(0, |node| node.version);
                let kind = match after.value(&Key::Node(id.clone())) {
                    KeyValue::Node(kind) => kind,
                    _ => None,
                };
                let after_state =
                    kind.and_then(|kind| after.version(id).map(|version| (kind, version)));
                let fresh = after_state.is_some() && self.added.contains(id);
                let version_after = after_state.as_ref().map_or(0, |(_, version)| *version);
                (fresh || version_after != version_before).then(|| NodeChange {
                    id: id.clone(),
                    version_before,
                    after: after_state,
                    fresh,
                    fresh_attrs: fresh
                        .then(|| after.node(id).map(|node| node.attrs))
                        .flatten()
                        .unwrap_or_default(),
                })
            })
            .collect();
        Changes { keys, nodes }
    }
}

fn edge(from: &NodeId, label: &str, to: &NodeId) -> Edge {
    Edge {
        from: from.clone(),
        label: label.to_owned(),
        to: to.clone(),
    }
}
