//! `Footprint`: what a workspace read and wrote, the keys its collapse is checked on.

use std::collections::BTreeSet;

use jitos_warp::{Edge, Expect, NodeId, Op, Rewrite};
use serde::{Deserialize, Serialize};

use crate::Key;

/// The keys a workspace's accepted rewrites depended on and changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footprint {
    /// Keys an expect or an op's validation read.
    pub reads: BTreeSet<Key>,
    /// Nodes read whole: every key of the node, including attributes and edges not
    /// named. A `node_version` expect reads them (any change moves the version), and so
    /// does `remove_node` (it takes every attribute and edge along).
    pub nodes_read: BTreeSet<NodeId>,
    /// Keys whose value the workspace changed.
    pub writes: BTreeSet<Key>,
}

impl Footprint {
    /// Adds what a batch of rewrites reads (its writes come from what it changed).
    pub(crate) fn read(&mut self, rewrites: &[Rewrite]) {
        for rewrite in rewrites {
            for expect in &rewrite.expect {
                self.expect(expect);
            }
            for op in &rewrite.ops {
                self.op(op);
            }
        }
    }

    /// Adds another footprint's reads (a child's, collapsed into its parent: the
    /// parent's result now rests on what the child read).
    pub(crate) fn read_all(&mut self, other: &Footprint) {
        self.reads.extend(other.reads.iter().cloned());
        self.nodes_read.extend(other.nodes_read.iter().cloned());
    }

    fn node(&mut self, id: &NodeId) {
        self.reads.insert(Key::Node(id.clone()));
    }

    fn expect(&mut self, expect: &Expect) {
        match expect {
            Expect::NodeExists { node } | Expect::NodeAbsent { node } => self.node(node),
            Expect::AttrEquals { node, key, .. } | Expect::AttrAbsent { node, key } => {
                self.node(node);
                self.reads.insert(Key::Attr(node.clone(), key.clone()));
            }
            Expect::NodeVersion { node, .. } => {
                self.node(node);
                self.nodes_read.insert(node.clone());
            }
            Expect::EdgeExists { from, to, label } | Expect::EdgeAbsent { from, to, label } => {
                self.reads.insert(edge_key(from, label, to));
            }
        }
    }

    fn op(&mut self, op: &Op) {
        match op {
            Op::AddNode { id, .. } => self.node(id),
            Op::RemoveNode { id, .. } => {
                self.node(id);
                self.nodes_read.insert(id.clone());
            }
            Op::SetAttr { node, key, .. } | Op::RemoveAttr { node, key } => {
                self.node(node);
                self.reads.insert(Key::Attr(node.clone(), key.clone()));
            }
            Op::AddEdge { from, to, label } | Op::RemoveEdge { from, to, label } => {
                self.node(from);
                self.node(to);
                self.reads.insert(edge_key(from, label, to));
            }
        }
    }
}

fn edge_key(from: &NodeId, label: &str, to: &NodeId) -> Key {
    Key::Edge(Edge {
        from: from.clone(),
        label: label.to_owned(),
        to: to.clone(),
    })
}
