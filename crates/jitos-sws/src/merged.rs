//! `Merged`: a workspace's state, its overlay read over its base.

use std::collections::{BTreeMap, BTreeSet};

use jitos_warp::{Edge, Node, NodeId};

use crate::{Key, KeyValue, NodeEntry, Overlay, View};

/// `merge(base, overlay)`: each key's overlay entry if there is one, else the base's.
pub struct Merged<'a> {
    base: Box<dyn View + 'a>,
    overlay: &'a Overlay,
}

impl<'a> Merged<'a> {
    /// The overlay read over `base`.
    pub fn new(base: Box<dyn View + 'a>, overlay: &'a Overlay) -> Merged<'a> {
        Merged { base, overlay }
    }

    /// The base this view reads through.
    pub fn base(&self) -> &dyn View {
        self.base.as_ref()
    }
}

impl View for Merged<'_> {
    fn node(&self, id: &NodeId) -> Option<Node> {
        let mut node = match self.overlay.nodes().get(id) {
            Some(NodeEntry::Removed) => return None,
            Some(NodeEntry::Added { kind, version }) => Node {
                id: id.clone(),
                kind: kind.clone(),
                attrs: BTreeMap::new(),
                version: *version,
            },
            Some(NodeEntry::Bumped { by }) => {
                let mut node = self.base.node(id)?;
                node.version = node.version.saturating_add(*by);
                node
            }
            None => self.base.node(id)?,
        };
        for (attr, value) in self.overlay.attrs().get(id).into_iter().flatten() {
            match value {
                Some(value) => node.attrs.insert(attr.clone(), value.clone()),
                None => node.attrs.remove(attr),
            };
        }
        Some(node)
    }

    fn has_edge(&self, edge: &Edge) -> bool {
        match self.overlay.edges().get(edge) {
            Some(present) => *present,
            None => self.base.has_edge(edge),
        }
    }

    fn edges_of(&self, id: &NodeId) -> Vec<Edge> {
        let mut edges: BTreeSet<Edge> = self.base.edges_of(id).into_iter().collect();
        for (edge, present) in self.overlay.edges_touching(id) {
            if present {
                edges.insert(edge.clone());
            } else {
                edges.remove(edge);
            }
        }
        edges.into_iter().collect()
    }

    fn node_ids(&self) -> Vec<NodeId> {
        let mut ids: BTreeSet<NodeId> = self.base.node_ids().into_iter().collect();
        for (id, entry) in self.overlay.nodes() {
            match entry {
                NodeEntry::Removed => {
                    ids.remove(id);
                }
                NodeEntry::Added { .. } => {
                    ids.insert(id.clone());
                }
                NodeEntry::Bumped { .. } => {}
            }
        }
        ids.into_iter().collect()
    }

    fn version(&self, id: &NodeId) -> Option<u64> {
        match self.overlay.nodes().get(id) {
            Some(NodeEntry::Removed) => None,
            Some(NodeEntry::Added { version, .. }) => Some(*version),
            Some(NodeEntry::Bumped { by }) => self
                .base
                .version(id)
                .map(|version| version.saturating_add(*by)),
            None => self.base.version(id),
        }
    }

    fn value(&self, key: &Key) -> KeyValue {
        let entry = |id: &NodeId| self.overlay.nodes().get(id);
        match key {
            Key::Node(id) => match entry(id) {
                Some(NodeEntry::Removed) => KeyValue::Node(None),
                Some(NodeEntry::Added { kind, .. }) => KeyValue::Node(Some(kind.clone())),
                _ => self.base.value(key),
            },
            Key::Attr(id, attr) => {
                if let Some(value) = self.overlay.attrs().get(id).and_then(|a| a.get(attr)) {
                    return KeyValue::Attr(value.clone());
                }
                match entry(id) {
                    // Nothing of the base's node shows through a node made anew.
                    Some(NodeEntry::Removed | NodeEntry::Added { .. }) => KeyValue::Attr(None),
                    _ => self.base.value(key),
                }
            }
            Key::Edge(edge) => KeyValue::Edge(self.has_edge(edge)),
        }
    }
}
