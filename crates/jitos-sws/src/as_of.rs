//! `AsOf`: a live view rolled back through its `ChangeLog` to a sequence number.

use std::collections::BTreeSet;

use jitos_warp::{Edge, Node, NodeId};

use crate::{ChangeLog, Key, KeyValue, View};

/// A target as of `seq`: the live value of each key, unless the log holds a change to
/// it after `seq`, in which case the value before that change. Exact for any `seq` at or
/// above the log's floor.
pub struct AsOf<'a> {
    live: Box<dyn View + 'a>,
    log: &'a ChangeLog,
    seq: u64,
}

impl<'a> AsOf<'a> {
    /// `live` as of `seq`, rolled back through `log`. The caller checks that `seq` is at
    /// or above `log.floor()`.
    pub fn new(live: Box<dyn View + 'a>, log: &'a ChangeLog, seq: u64) -> AsOf<'a> {
        AsOf { live, log, seq }
    }
}

impl View for AsOf<'_> {
    fn node(&self, id: &NodeId) -> Option<Node> {
        let KeyValue::Node(Some(kind)) = self.value(&Key::Node(id.clone())) else {
            return None;
        };
        let version = self.version(id)?;
        let live = self.live.node(id);
        let mut attrs = live.map(|node| node.attrs).unwrap_or_default();
        for key in self.log.keys_of(id) {
            let Key::Attr(_, attr) = key else { continue };
            if let Some((_, KeyValue::Attr(before))) = self.log.first_after(key, self.seq) {
                match before {
                    Some(value) => attrs.insert(attr.clone(), value.clone()),
                    None => attrs.remove(attr),
                };
            }
        }
        Some(Node {
            id: id.clone(),
            kind,
            attrs,
            version,
        })
    }

    fn has_edge(&self, edge: &Edge) -> bool {
        self.value(&Key::Edge(edge.clone())) == KeyValue::Edge(true)
    }

    fn edges_of(&self, id: &NodeId) -> Vec<Edge> {
        let mut edges: BTreeSet<Edge> = self.live.edges_of(id).into_iter().collect();
        for key in self.log.keys_of(id) {
            let Key::Edge(edge) = key else { continue };
            if let Some((_, KeyValue::Edge(present))) = self.log.first_after(key, self.seq) {
                if *present {
                    edges.insert(edge.clone());
                } else {
                    edges.remove(edge);
                }
            }
        }
        edges.into_iter().collect()
    }

    fn node_ids(&self) -> Vec<NodeId> {
        let mut ids: BTreeSet<NodeId> = self.live.node_ids().into_iter().collect();
        ids.extend(self.log.node_keys().cloned());
        ids.into_iter()
            .filter(|id| matches!(self.value(&Key::Node(id.clone())), KeyValue::Node(Some(_))))
            .collect()
    }

    fn version(&self, id: &NodeId) -> Option<u64> {
        match self.log.version_after(id, self.seq) {
            Some(0) => None,
            Some(version) => Some(version),
            None => self.live.version(id),
        }
    }

    fn value(&self, key: &Key) -> KeyValue {
        match self.log.first_after(key, self.seq) {
            Some((_, before)) => before.clone(),
            None => self.live.value(key),
        }
    }
}
