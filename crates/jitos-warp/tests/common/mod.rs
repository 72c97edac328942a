//! Helpers shared by the integration tests: terse constructors for ids, ops and graphs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use jitos_warp::{Edge, Graph, NodeId, Op, Rewrite, Value};

pub fn id(s: &str) -> NodeId {
    NodeId::new(s).unwrap()
}

pub fn add(node: &str, kind: &str) -> Op {
    Op::AddNode {
        id: id(node),
        kind: kind.to_owned(),
        attrs: BTreeMap::new(),
    }
}

pub fn add_with(node: &str, kind: &str, attrs: &[(&str, Value)]) -> Op {
    Op::AddNode {
        id: id(node),
        kind: kind.to_owned(),
        attrs: attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    }
}

pub fn set(node: &str, key: &str, value: impl Into<Value>) -> Op {
    Op::SetAttr {
        node: id(node),
        key: key.to_owned(),
        value: value.into(),
    }
}

pub fn unset(node: &str, key: &str) -> Op {
    Op::RemoveAttr {
        node: id(node),
        key: key.to_owned(),
    }
}

pub fn link(from: &str, label: &str, to: &str) -> Op {
    Op::AddEdge {
        from: id(from),
        to: id(to),
        label: label.to_owned(),
    }
}

pub fn unlink(from: &str, label: &str, to: &str) -> Op {
    Op::RemoveEdge {
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

pub fn edge(from: &str, label: &str, to: &str) -> Edge {
    Edge {
        from: id(from),
        label: label.to_owned(),
        to: id(to),
    }
}

pub fn rw(ops: Vec<Op>) -> Rewrite {
    Rewrite {
        ops,
        expect: Vec::new(),
    }
}

/// A graph built by applying `ops` as one rewrite.
pub fn graph(ops: Vec<Op>) -> Graph {
    let mut g = Graph::new();
    g.apply(&rw(ops)).unwrap();
    g
}

/// Two tasks, a file, edges between them, attributes of several kinds.
pub fn sample() -> Graph {
    graph(vec![
        add_with(
            "task:1",
            "Task",
            &[("title", Value::from("fix")), ("prio", Value::Int(2))],
        ),
        add("task:2", "Task"),
        add("file:a", "File"),
        link("task:1", "touches", "file:a"),
        link("task:2", "touches", "file:a"),
        link("task:1", "blocks", "task:2"),
    ])
}
