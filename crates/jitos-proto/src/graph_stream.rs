//! A graph answered in parts: any number of [`GraphPart`]s, each well under the frame
//! limit, then one [`GraphEnd`] with what the whole comes to, so the client can tell a
//! complete graph from a cut one.

use jitos_warp::{Edge, Node};
use serde::{Deserialize, Serialize};

use crate::{FrameError, GraphView};

/// What one part may cost, counted as its encoded bytes plus the memory a decoder
/// reserves for its items. A quarter of the frame limit leaves room for bincode's
/// allowance for decoded sizes, which counts memory rather than wire bytes.
const GRAPH_PART_COST_MAX: usize = 4 * 1024 * 1024;

/// Some of a graph's nodes and edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphPart {
    /// Nodes, continuing the id order of the parts before.
    pub nodes: Vec<Node>,
    /// Edges, continuing the (from, label, to) order of the parts before.
    pub edges: Vec<Edge>,
}

/// The end of a graph's parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphEnd {
    /// The sequence number the graph reflects.
    pub at_seq: u64,
    /// State digest of the whole graph at that point (hex).
    pub digest: String,
    /// How many nodes the parts carried.
    pub nodes: u64,
    /// How many edges the parts carried.
    pub edges: u64,
}

/// Splits a graph into parts that each fit a frame with room to spare, and its end.
/// A single node larger than a part goes alone; the frame guard refuses it if even that
/// does not fit.
pub fn graph_parts(view: GraphView) -> Result<(Vec<GraphPart>, GraphEnd), FrameError> {
    let end = GraphEnd {
        at_seq: view.at_seq,
        digest: view.digest,
        nodes: view.nodes.len() as u64,
        edges: view.edges.len() as u64,
    };
    let mut parts = Vec::new();
    let mut part = GraphPart {
        nodes: Vec::new(),
        edges: Vec::new(),
    };
    let mut cost = 0usize;
    for node in view.nodes {
        let item = item_cost(&node)?;
        if cost + item > GRAPH_PART_COST_MAX && !is_empty(&part) {
            parts.push(std::mem::replace(&mut part, empty()));
            cost = 0;
        }
        cost += item;
        part.nodes.push(node);
    }
    for edge in view.edges {
        let item = item_cost(&edge)?;
        if cost + item > GRAPH_PART_COST_MAX && !is_empty(&part) {
            parts.push(std::mem::replace(&mut part, empty()));
            cost = 0;
        }
        cost += item;
        part.edges.push(edge);
    }
    if !is_empty(&part) {
        parts.push(part);
    }
    Ok((parts, end))
}

fn empty() -> GraphPart {
    GraphPart {
        nodes: Vec::new(),
        edges: Vec::new(),
    }
}

fn is_empty(part: &GraphPart) -> bool {
    part.nodes.is_empty() && part.edges.is_empty()
}

/// The encoded size of one item plus its in-memory size; decoded, its strings and maps
/// take no more than their encoded bytes again.
fn item_cost<T: Serialize>(item: &T) -> Result<usize, FrameError> {
    Ok(std::mem::size_of::<T>() + 2 * crate::frame::encoded_len(item)?)
}

/// Collects the parts of one graph answer.
#[derive(Debug, Default)]
pub struct GraphAssembler {
    nodes: Vec<Node>,
    edges: Vec<Edge>,
}

impl GraphAssembler {
    /// Takes one part.
    pub fn add(&mut self, part: GraphPart) {
        self.nodes.extend(part.nodes);
        self.edges.extend(part.edges);
    }

    /// The whole graph, once the end arrives; refused when the parts do not add up to
    /// what the end says.
    pub fn finish(self, end: GraphEnd) -> Result<GraphView, String> {
        let got = (self.nodes.len() as u64, self.edges.len() as u64);
        if got != (end.nodes, end.edges) {
            return Err(format!(
                "the graph arrived with {} nodes and {} edges, but its end announced {} and {}",
                got.0, got.1, end.nodes, end.edges
            ));
        }
        Ok(GraphView {
            at_seq: end.at_seq,
            digest: end.digest,
            nodes: self.nodes,
            edges: self.edges,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeMap;

    use jitos_warp::{NodeId, Value};

    use super::*;
    use crate::{decode_message, encode_message, Response};

    fn graph(nodes: usize, attr_bytes: usize) -> GraphView {
        let nodes: Vec<Node> = (0..nodes)
            .map(|i| Node {
                id: NodeId::new(format!("n{i:07}")).unwrap(),
                kind: "Task".to_owned(),
                attrs: BTreeMap::from([("body".to_owned(), Value::Str("x".repeat(attr_bytes)))]),
                version: 1,
            })
            .collect();
        let edges = nodes
            .windows(2)
            .map(|pair| Edge {
                from: pair[0].id.clone(),
                label: "next".to_owned(),
                to: pair[1].id.clone(),
            })
            .collect();
        GraphView {
            at_seq: 9,
            digest: "d".repeat(64),
            nodes,
            edges,
        }
    }

    // Goal: a graph too big for one frame splits into parts that each encode and decode
    // within the frame limit, and they reassemble into the same graph. Method: split a
    // graph of about 40 MiB, push every part through the wire encoding, reassemble.
    #[test]
    fn big_graph_splits_and_reassembles() {
        let whole = graph(20_000, 2_000);
        assert!(matches!(
            encode_message(&whole),
            Err(FrameError::TooLarge { .. })
        ));
        let (parts, end) = graph_parts(whole.clone()).unwrap();
        assert!(parts.len() > 4, "{} parts", parts.len());
        let mut assembler = GraphAssembler::default();
        for part in parts {
            let bytes = encode_message(&Response::GraphPart(part)).unwrap();
            match decode_message::<Response>(&bytes).unwrap() {
                Response::GraphPart(part) => assembler.add(part),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(assembler.finish(end).unwrap(), whole);
    }

    // Goal: many small nodes split by what the decoder reserves, not only by bytes, so
    // no part is refused by the decoder's allowance. Method: 300,000 nodes without
    // attributes; every part decodes.
    #[test]
    fn many_small_nodes_decode() {
        let (parts, end) = graph_parts(graph(300_000, 0)).unwrap();
        assert!(parts.len() > 1);
        let mut assembler = GraphAssembler::default();
        for part in parts {
            let bytes = encode_message(&Response::GraphPart(part)).unwrap();
            match decode_message::<Response>(&bytes).unwrap() {
                Response::GraphPart(part) => assembler.add(part),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(assembler.finish(end).unwrap().nodes.len(), 300_000);
    }

    // Goal: parts that do not add up to their end are refused, not shown as the graph.
    // Method: drop a part and finish.
    #[test]
    fn missing_part_is_refused() {
        let (mut parts, end) = graph_parts(graph(20_000, 2_000)).unwrap();
        parts.pop();
        let mut assembler = GraphAssembler::default();
        for part in parts {
            assembler.add(part);
        }
        let why = assembler.finish(end).unwrap_err();
        assert!(why.contains("announced"), "{why}");
    }
}
