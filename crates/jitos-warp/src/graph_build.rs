//! `Graph::from_parts`: a graph built directly from nodes and edges, versions kept, for
//! callers that assemble a graph from another view of it (workspaces, checkouts).

use crate::{
    digest::{Accumulator, Delta, PendingElements},
    graph::{Slot, SlotMap},
    Edge, Graph, Node, NodeId,
};

/// Why `Graph::from_parts` refused its input. Nothing was built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GraphBuildError {
    /// Two nodes share an id.
    #[error("node {id} is given twice: pass each node once")]
    DuplicateNode {
        /// The id.
        id: NodeId,
    },
    /// An edge names a node that is not among the nodes.
    #[error(
        "edge {edge} names node {missing}, which is not among the nodes: add it or drop the edge"
    )]
    MissingEndpoint {
        /// The edge.
        edge: Edge,
        /// The end that is missing.
        missing: NodeId,
    },
    /// An edge is given twice.
    #[error("edge {edge} is given twice: pass each edge once")]
    DuplicateEdge {
        /// The edge.
        edge: Edge,
    },
}

impl Graph {
    /// A graph holding exactly these nodes, with their given versions, and these edges;
    /// degrees and digest computed from them.
    ///
    /// Node contents are taken as given (they come from another graph, already valid):
    /// only the structure is checked. Costs O((n + e) log e).
    pub fn from_parts(
        nodes: impl IntoIterator<Item = Node>,
        edges: impl IntoIterator<Item = Edge>,
    ) -> Result<Graph, GraphBuildError> {
        let mut acc = Accumulator::default();
        let mut pending = PendingElements::new();
        let mut slots = SlotMap::default();
        for node in nodes {
            pending.node(Delta::In, node.id.as_str(), &node.kind);
            for (key, value) in &node.attrs {
                pending.attr(Delta::In, node.id.as_str(), key, value);
            }
            if pending.should_flush() {
                pending.flush(&mut acc);
            }
            let id = node.id.clone();
            if !slots.insert_new(id.clone(), Slot { node, degree: 0 }) {
                return Err(GraphBuildError::DuplicateNode { id });
            }
        }
        let mut graph = Graph {
            slots,
            ..Graph::default()
        };
        for edge in edges {
            // The graph's own ids, so that edges share the nodes' allocations.
            let end = |id: &NodeId| {
                graph
                    .slots
                    .get(id.as_str())
                    .map(|slot| slot.node.id.clone())
                    .ok_or_else(|| GraphBuildError::MissingEndpoint {
                        edge: edge.clone(),
                        missing: id.clone(),
                    })
            };
            let edge = Edge {
                from: end(&edge.from)?,
                label: edge.label.clone(),
                to: end(&edge.to)?,
            };
            if graph.edges.contains(&edge) {
                return Err(GraphBuildError::DuplicateEdge { edge });
            }
            pending.edge(Delta::In, edge.from.as_str(), &edge.label, edge.to.as_str());
            if pending.should_flush() {
                pending.flush(&mut acc);
            }
            graph.link(edge);
        }
        pending.flush(&mut acc);
        graph.acc = acc;
        debug_assert_eq!(graph.edges.len(), graph.edges_in.len());
        Ok(graph)
    }
}
