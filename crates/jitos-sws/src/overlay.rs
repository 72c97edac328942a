//! `Overlay`: what a workspace wrote, key by key, over its base.

use std::collections::{BTreeMap, BTreeSet};

use jitos_warp::{Edge, NodeId, Value};
use serde::{Deserialize, Serialize, Serializer};

use crate::{capture::Changes, Key, KeyValue};

/// A workspace's own entries. Memory is proportional to the keys it changed.
///
/// Removals are explicit: removing a node records the removal of each of its attributes
/// and edges, so base content never shows through a node removed and added again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(from = "OverlayData")]
pub struct Overlay {
    data: OverlayData,
    /// For each node, the edges in `data.edges` that touch it.
    edges_by_node: BTreeMap<NodeId, BTreeSet<Edge>>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct OverlayData {
    nodes: BTreeMap<NodeId, NodeEntry>,
    attrs: BTreeMap<NodeId, BTreeMap<String, Option<Value>>>,
    edges: BTreeMap<Edge, bool>,
}

/// What a workspace did to a node's existence and version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeEntry {
    /// The node is absent.
    Removed,
    /// The node was created in the workspace (perhaps again, after a removal): only the
    /// overlay's attributes count, and its version is this.
    Added {
        /// Its kind.
        kind: String,
        /// Its version.
        version: u64,
    },
    /// The node is the base's, changed `by` versions (attributes or edges changed).
    Bumped {
        /// Versions added to the base's.
        by: u64,
    },
}

impl From<OverlayData> for Overlay {
    fn from(data: OverlayData) -> Overlay {
        // Derived index: rebuilt, not trusted from the input.
        let mut edges_by_node: BTreeMap<NodeId, BTreeSet<Edge>> = BTreeMap::new();
        for edge in data.edges.keys() {
            for id in [&edge.from, &edge.to] {
                edges_by_node
                    .entry(id.clone())
                    .or_default()
                    .insert(edge.clone());
            }
        }
        Overlay {
            data,
            edges_by_node,
        }
    }
}

impl Serialize for Overlay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.data.serialize(serializer)
    }
}

impl Overlay {
    /// The node entries, in id order.
    pub fn nodes(&self) -> &BTreeMap<NodeId, NodeEntry> {
        &self.data.nodes
    }

    /// The attribute entries of each node (`None`: removed), in order.
    pub fn attrs(&self) -> &BTreeMap<NodeId, BTreeMap<String, Option<Value>>> {
        &self.data.attrs
    }

    /// The edge entries (`false`: removed), in order.
    pub fn edges(&self) -> &BTreeMap<Edge, bool> {
        &self.data.edges
    }

    /// The edge entries touching a node.
    pub fn edges_touching(&self, id: &NodeId) -> impl Iterator<Item = (&Edge, bool)> + '_ {
        self.edges_by_node
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|edge| self.data.edges.get(edge).map(|present| (edge, *present)))
    }

    /// Node entries, nodes with changed attributes, and edges: O(1), what
    /// `OVERLAY_ENTRIES_MAX` counts.
    pub fn entries(&self) -> usize {
        self.data.nodes.len() + self.data.attrs.len() + self.data.edges.len()
    }

    /// Number of entries: nodes, attributes and edges.
    pub fn len(&self) -> usize {
        self.data.nodes.len()
            + self.data.attrs.values().map(BTreeMap::len).sum::<usize>()
            + self.data.edges.len()
    }

    /// Whether the workspace wrote nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes in what one successful batch changed.
    pub(crate) fn absorb(&mut self, changes: &Changes) {
        for (key, _, after) in &changes.keys {
            match (key, after) {
                (Key::Attr(id, attr), KeyValue::Attr(value)) => {
                    self.data
                        .attrs
                        .entry(id.clone())
                        .or_default()
                        .insert(attr.clone(), value.clone());
                }
                (Key::Edge(edge), KeyValue::Edge(present)) => {
                    for id in [&edge.from, &edge.to] {
                        self.edges_by_node
                            .entry(id.clone())
                            .or_default()
                            .insert(edge.clone());
                    }
                    self.data.edges.insert(edge.clone(), *present);
                }
                // Node existence is carried by `changes.nodes`, with the version.
                _ => {}
            }
        }
        for node in &changes.nodes {
            if !node.fresh_attrs.is_empty() {
                let attrs = self.data.attrs.entry(node.id.clone()).or_default();
                for (attr, value) in &node.fresh_attrs {
                    attrs.insert(attr.clone(), Some(value.clone()));
                }
            }
            let entry = match (&node.after, node.fresh) {
                (None, _) => NodeEntry::Removed,
                (Some((kind, version)), true) => NodeEntry::Added {
                    kind: kind.clone(),
                    version: *version,
                },
                (Some((kind, version)), false) => match self.data.nodes.get(&node.id) {
                    Some(NodeEntry::Added { .. }) => NodeEntry::Added {
                        kind: kind.clone(),
                        version: *version,
                    },
                    Some(NodeEntry::Bumped { by }) => NodeEntry::Bumped {
                        by: by.saturating_add(version.saturating_sub(node.version_before)),
                    },
                    Some(NodeEntry::Removed) | None => NodeEntry::Bumped {
                        by: version.saturating_sub(node.version_before),
                    },
                },
            };
            self.data.nodes.insert(node.id.clone(), entry);
        }
    }
}
