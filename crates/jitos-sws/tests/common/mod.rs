//! Shared test helpers: terse constructors, random graphs and rewrites over a small id
//! space (so rewrites collide often), and graph comparisons.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use jitos_sws::{materialize, Key, View};
use jitos_warp::{Edge, Expect, Graph, Node, NodeId, Op, Rewrite, Value};
use proptest::{collection::vec, prelude::*};

pub fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

pub fn rw(ops: Vec<Op>) -> Rewrite {
    Rewrite {
        ops,
        expect: Vec::new(),
    }
}

pub fn add(node: &str, kind: &str) -> Op {
    Op::AddNode {
        id: id(node),
        kind: kind.to_owned(),
        attrs: BTreeMap::new(),
    }
}

pub fn set(node: &str, key: &str, value: i64) -> Op {
    Op::SetAttr {
        node: id(node),
        key: key.to_owned(),
        value: Value::Int(value),
    }
}

pub fn link(from: &str, label: &str, to: &str) -> Op {
    Op::AddEdge {
        from: id(from),
        to: id(to),
        label: label.to_owned(),
    }
}

pub fn remove(node: &str, cascade: bool) -> Op {
    Op::RemoveNode {
        id: id(node),
        cascade,
    }
}

fn node_id() -> impl Strategy<Value = NodeId> {
    (0..6u8).prop_map(|i| id(&format!("n{i}")))
}

fn kind() -> impl Strategy<Value = String> {
    prop_oneof![Just("A".to_owned()), Just("B".to_owned())]
}

fn attr_key() -> impl Strategy<Value = String> {
    (0..3u8).prop_map(|i| format!("k{i}"))
}

fn label() -> impl Strategy<Value = String> {
    prop_oneof![Just("x".to_owned()), Just("y".to_owned())]
}

fn value() -> impl Strategy<Value = Value> {
    (0..3i64).prop_map(Value::Int)
}

pub fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (node_id(), kind(), vec((attr_key(), value()), 0..3)).prop_map(|(id, kind, attrs)| {
            Op::AddNode { id, kind, attrs: attrs.into_iter().collect() }
        }),
        1 => (node_id(), any::<bool>()).prop_map(|(id, cascade)| Op::RemoveNode { id, cascade }),
        3 => (node_id(), attr_key(), value())
            .prop_map(|(node, key, value)| Op::SetAttr { node, key, value }),
        1 => (node_id(), attr_key()).prop_map(|(node, key)| Op::RemoveAttr { node, key }),
        3 => (node_id(), node_id(), label()).prop_map(|(from, to, label)| Op::AddEdge { from, to, label }),
        1 => (node_id(), node_id(), label())
            .prop_map(|(from, to, label)| Op::RemoveEdge { from, to, label }),
    ]
}

pub fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        node_id().prop_map(|node| Expect::NodeExists { node }),
        node_id().prop_map(|node| Expect::NodeAbsent { node }),
        (node_id(), attr_key(), value()).prop_map(|(node, key, value)| Expect::AttrEquals {
            node,
            key,
            value
        }),
        (node_id(), attr_key()).prop_map(|(node, key)| Expect::AttrAbsent { node, key }),
        (node_id(), 1..4u64).prop_map(|(node, version)| Expect::NodeVersion { node, version }),
        (node_id(), node_id(), label()).prop_map(|(from, to, label)| Expect::EdgeExists {
            from,
            to,
            label
        }),
        (node_id(), node_id(), label()).prop_map(|(from, to, label)| Expect::EdgeAbsent {
            from,
            to,
            label
        }),
    ]
}

/// A rewrite of 1 to 3 ops, with an expect one time in four.
pub fn rewrite() -> impl Strategy<Value = Rewrite> {
    (
        vec(op(), 1..4),
        prop_oneof![3 => Just(Vec::new()), 1 => vec(expect(), 1..3)],
    )
        .prop_map(|(ops, expect)| Rewrite { ops, expect })
}

/// A graph made by applying random single ops, the refused ones skipped.
pub fn graph() -> impl Strategy<Value = Graph> {
    vec(op(), 0..30).prop_map(|ops| {
        let mut graph = Graph::new();
        for op in ops {
            let _ = graph.apply(&rw(vec![op]));
        }
        graph
    })
}

/// Everything a view shows, versions included, as comparable data.
pub fn contents(view: &dyn View) -> (Vec<Node>, Vec<Edge>) {
    let graph = materialize(view).unwrap();
    (
        graph.nodes().cloned().collect(),
        graph.edges().cloned().collect(),
    )
}

/// A graph's contents, in the same form as `contents`.
pub fn graph_contents(graph: &Graph) -> (Vec<Node>, Vec<Edge>) {
    (
        graph.nodes().cloned().collect(),
        graph.edges().cloned().collect(),
    )
}

/// Every key whose value differs between two graphs, computed from their contents
/// alone (independently of the crate's change capture).
pub fn changed_keys(before: &Graph, after: &Graph) -> BTreeSet<Key> {
    let mut keys = BTreeSet::new();
    let ids: BTreeSet<NodeId> = before
        .nodes()
        .chain(after.nodes())
        .map(|node| node.id.clone())
        .collect();
    for id in ids {
        let (a, b) = (before.node(id.as_str()), after.node(id.as_str()));
        if a.map(|n| &n.kind) != b.map(|n| &n.kind) {
            keys.insert(Key::Node(id.clone()));
        }
        let empty = BTreeMap::new();
        let (attrs_a, attrs_b) = (
            a.map_or(&empty, |n| &n.attrs),
            b.map_or(&empty, |n| &n.attrs),
        );
        for attr in attrs_a.keys().chain(attrs_b.keys()) {
            if attrs_a.get(attr) != attrs_b.get(attr) {
                keys.insert(Key::Attr(id.clone(), attr.clone()));
            }
        }
    }
    let edges_a: BTreeSet<&Edge> = before.edges().collect();
    let edges_b: BTreeSet<&Edge> = after.edges().collect();
    for edge in edges_a.symmetric_difference(&edges_b) {
        keys.insert(Key::Edge((*edge).clone()));
    }
    keys
}
