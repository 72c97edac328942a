//! `View`: read access to a graph as of some point, and `materialize` to copy one out.

use jitos_warp::{Edge, Graph, GraphBuildError, Node, NodeId};

use crate::{Key, KeyValue};

/// Read-only access to a graph: the system graph, a workspace's merged state, or either
/// as of an earlier sequence number.
pub trait View {
    /// The node with this id: kind, attributes and version.
    fn node(&self, id: &NodeId) -> Option<Node>;

    /// Whether this edge exists.
    fn has_edge(&self, edge: &Edge) -> bool;

    /// The edges out of and into a node, in `(from, label, to)` order; a self-loop once.
    fn edges_of(&self, id: &NodeId) -> Vec<Edge>;

    /// Every node id, in order. O(graph): for display and checkout, not hot paths.
    fn node_ids(&self) -> Vec<NodeId>;

    /// A node's version, or `None` when it is absent.
    fn version(&self, id: &NodeId) -> Option<u64> {
        self.node(id).map(|node| node.version)
    }

    /// The value a key holds.
    fn value(&self, key: &Key) -> KeyValue {
        match key {
            Key::Node(id) => KeyValue::Node(self.node(id).map(|node| node.kind)),
            Key::Attr(id, attr) => KeyValue::Attr(
                self.node(id)
                    .and_then(|mut node| node.attrs.remove(attr.as_str())),
            ),
            Key::Edge(edge) => KeyValue::Edge(self.has_edge(edge)),
        }
    }
}

impl View for Graph {
    fn node(&self, id: &NodeId) -> Option<Node> {
        Graph::node(self, id.as_str()).cloned()
    }

    fn has_edge(&self, edge: &Edge) -> bool {
        self.contains_edge(edge)
    }

    fn edges_of(&self, id: &NodeId) -> Vec<Edge> {
        Graph::edges_of(self, id.as_str())
    }

    fn node_ids(&self) -> Vec<NodeId> {
        self.nodes().map(|node| node.id.clone()).collect()
    }

    fn version(&self, id: &NodeId) -> Option<u64> {
        Graph::node(self, id.as_str()).map(|node| node.version)
    }

    fn value(&self, key: &Key) -> KeyValue {
        // Overridden so a lookup clones one field, not the whole node.
        match key {
            Key::Node(id) => KeyValue::Node(Graph::node(self, id.as_str()).map(|n| n.kind.clone())),
            Key::Attr(id, attr) => KeyValue::Attr(
                Graph::node(self, id.as_str()).and_then(|node| node.attrs.get(attr).cloned()),
            ),
            Key::Edge(edge) => KeyValue::Edge(self.contains_edge(edge)),
        }
    }
}

impl<T: View + ?Sized> View for &T {
    fn node(&self, id: &NodeId) -> Option<Node> {
        (**self).node(id)
    }

    fn has_edge(&self, edge: &Edge) -> bool {
        (**self).has_edge(edge)
    }

    fn edges_of(&self, id: &NodeId) -> Vec<Edge> {
        (**self).edges_of(id)
    }

    fn node_ids(&self) -> Vec<NodeId> {
        (**self).node_ids()
    }

    fn version(&self, id: &NodeId) -> Option<u64> {
        (**self).version(id)
    }

    fn value(&self, key: &Key) -> KeyValue {
        (**self).value(key)
    }
}

/// A graph holding exactly what the view shows, versions included. O(graph).
pub fn materialize(view: &dyn View) -> Result<Graph, GraphBuildError> {
    let ids = view.node_ids();
    let nodes: Vec<Node> = ids.iter().filter_map(|id| view.node(id)).collect();
    // Each edge once: from its source's list.
    let edges: Vec<Edge> = ids
        .iter()
        .flat_map(|id| {
            view.edges_of(id)
                .into_iter()
                .filter(move |edge| edge.from == *id)
        })
        .collect();
    Graph::from_parts(nodes, edges)
}
