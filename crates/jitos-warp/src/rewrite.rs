//! `Rewrite`, `Op` and `Expect`: one atomic change to a graph and the reads it depends on.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::{attrs_serde, NodeId, Value};

/// One atomic, validated change: preconditions checked against the state before any op,
/// then ops applied in order, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rewrite {
    /// The ops, applied in order.
    pub ops: Vec<Op>,
    /// Preconditions on what the author read; all must hold before the first op runs.
    #[serde(default)]
    pub expect: Vec<Expect>,
}

/// One step of a rewrite. JSON: externally tagged, snake_case (`{"add_node": {...}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Adds a node, with version 1. The id must be free.
    AddNode {
        /// The new node's id.
        id: NodeId,
        /// Its kind.
        kind: String,
        /// Its initial attributes (default: none).
        #[serde(default, deserialize_with = "attrs_serde::deserialize")]
        attrs: BTreeMap<String, Value>,
    },
    /// Removes a node and its attributes. Refused while edges touch it, unless `cascade`,
    /// which removes those edges too.
    RemoveNode {
        /// The node to remove.
        id: NodeId,
        /// Also remove every edge into or out of the node (default: false).
        #[serde(default)]
        cascade: bool,
    },
    /// Sets an attribute, adding or replacing it.
    SetAttr {
        /// The node.
        node: NodeId,
        /// The attribute key.
        key: String,
        /// The new value.
        value: Value,
    },
    /// Removes an attribute, which must exist.
    RemoveAttr {
        /// The node.
        node: NodeId,
        /// The attribute key.
        key: String,
    },
    /// Adds an edge between two existing nodes; it must not exist yet.
    AddEdge {
        /// The source node.
        from: NodeId,
        /// The target node.
        to: NodeId,
        /// The label.
        label: String,
    },
    /// Removes an edge, which must exist.
    RemoveEdge {
        /// The source node.
        from: NodeId,
        /// The target node.
        to: NodeId,
        /// The label.
        label: String,
    },
}

/// A precondition on the state a rewrite was written against.
/// JSON: externally tagged, snake_case (`{"node_exists": {"node": "task:1"}}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Expect {
    /// The node exists.
    NodeExists {
        /// The node.
        node: NodeId,
    },
    /// The node does not exist.
    NodeAbsent {
        /// The node.
        node: NodeId,
    },
    /// The node exists and its attribute `key` equals `value`.
    AttrEquals {
        /// The node.
        node: NodeId,
        /// The attribute key.
        key: String,
        /// The expected value.
        value: Value,
    },
    /// The node exists and has no attribute `key`.
    AttrAbsent {
        /// The node.
        node: NodeId,
        /// The attribute key.
        key: String,
    },
    /// The node exists at exactly this version.
    NodeVersion {
        /// The node.
        node: NodeId,
        /// The expected version.
        version: u64,
    },
    /// The edge exists.
    EdgeExists {
        /// The source node.
        from: NodeId,
        /// The target node.
        to: NodeId,
        /// The label.
        label: String,
    },
    /// The edge does not exist.
    EdgeAbsent {
        /// The source node.
        from: NodeId,
        /// The target node.
        to: NodeId,
        /// The label.
        label: String,
    },
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::NodeExists { node } => write!(f, "node {node} exists"),
            Expect::NodeAbsent { node } => write!(f, "node {node} is absent"),
            Expect::AttrEquals { node, key, value } => write!(f, "{node}.{key} = {value}"),
            Expect::AttrAbsent { node, key } => write!(f, "{node}.{key} is absent"),
            Expect::NodeVersion { node, version } => {
                write!(f, "node {node} is at version {version}")
            }
            Expect::EdgeExists { from, to, label } => {
                write!(f, "edge {from} -{label}-> {to} exists")
            }
            Expect::EdgeAbsent { from, to, label } => {
                write!(f, "edge {from} -{label}-> {to} is absent")
            }
        }
    }
}
