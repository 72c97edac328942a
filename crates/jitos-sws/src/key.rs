//! `Key` and `KeyValue`: the grain of footprints, change logs and conflicts.

use std::fmt;

use jitos_warp::{Edge, NodeId, Value};
use serde::{Deserialize, Serialize};

/// One readable and writable piece of a graph.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Key {
    /// A node's existence and kind (not its attributes, edges or version).
    Node(NodeId),
    /// One attribute of a node.
    Attr(NodeId, String),
    /// One edge's existence.
    Edge(Edge),
}

/// The value a `Key` holds in some state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyValue {
    /// A node key: its kind, or `None` when the node is absent.
    Node(Option<String>),
    /// An attribute key: its value, or `None` when absent.
    Attr(Option<Value>),
    /// An edge key: whether the edge exists.
    Edge(bool),
}

impl Key {
    /// The nodes the key belongs to: one, or an edge's two ends (a self-loop's once).
    pub fn nodes(&self) -> Vec<&NodeId> {
        match self {
            Key::Node(id) | Key::Attr(id, _) => vec![id],
            Key::Edge(edge) if edge.from == edge.to => vec![&edge.from],
            Key::Edge(edge) => vec![&edge.from, &edge.to],
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Node(id) => write!(f, "node {id}"),
            Key::Attr(id, key) => write!(f, "{id}.{key}"),
            Key::Edge(edge) => write!(f, "edge {edge}"),
        }
    }
}

impl fmt::Display for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyValue::Node(Some(kind)) => write!(f, "a {kind} node"),
            KeyValue::Attr(Some(value)) => write!(f, "{value}"),
            KeyValue::Node(None) | KeyValue::Attr(None) => f.write_str("absent"),
            KeyValue::Edge(true) => f.write_str("present"),
            KeyValue::Edge(false) => f.write_str("absent"),
        }
    }
}
