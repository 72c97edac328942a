//! `Node` and `Edge`: the content of a graph, as read by its users.

use std::{collections::BTreeMap, fmt};

use serde::{Deserialize, Serialize};

use crate::{attrs_serde, NodeId, Value};

/// A node: its id, kind, attributes and version.
///
/// `version` is history metadata: it starts at 1 when the node is added and grows by 1
/// with every op that changes the node's attributes or incident edges. It is part of
/// snapshots but not of the state digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The node's id.
    pub id: NodeId,
    /// What kind of thing the node is (e.g. `Task`, `File`).
    pub kind: String,
    /// Attributes by key.
    #[serde(deserialize_with = "attrs_serde::deserialize")]
    pub attrs: BTreeMap<String, Value>,
    /// Changes to the node since it was added, plus one.
    pub version: u64,
}

/// A labelled, directed edge. Ordered by `(from, label, to)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// The source node.
    pub from: NodeId,
    /// The label.
    pub label: String,
    /// The target node.
    pub to: NodeId,
}

impl fmt::Display for Edge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -{}-> {}", self.from, self.label, self.to)
    }
}
