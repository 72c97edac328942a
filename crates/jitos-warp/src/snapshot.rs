//! The canonical snapshot encoding of a graph, versions included.
//!
//! Layout (integers little-endian; a string is a `u32` length then UTF-8 bytes):
//! `MAGIC`, `FORMAT`, `u64` node count, then per node in id order: id, kind, `u64`
//! version, `u32` attribute count, then per attribute in key order: key and
//! `encode_value`. Then `u64` edge count, then per edge in `(from, label, to)` order: `u64`
//! index of `from` in the node list, label, `u64` index of `to`.

use rustc_hash::FxHashMap;

use crate::{
    encode::{encode_value, put_bytes, put_len},
    Graph,
};

/// The first bytes of every snapshot.
pub(crate) const MAGIC: [u8; 4] = *b"JWSN";

/// The format this build writes and reads.
pub(crate) const FORMAT: u8 = 1;

/// Expected encoded size of a node and of an edge, for the first allocation.
const NODE_BYTES_TYPICAL: usize = 64;
const EDGE_BYTES_TYPICAL: usize = 32;

impl Graph {
    /// Encodes the graph canonically: equal graphs (content and versions) give equal
    /// bytes. `decode_snapshot` reads it back.
    pub fn encode_snapshot(&self) -> Vec<u8> {
        let slots = self.sorted_slots();
        let mut out = Vec::with_capacity(
            16 + slots.len() * NODE_BYTES_TYPICAL + self.edges.len() * EDGE_BYTES_TYPICAL,
        );
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT);
        out.extend_from_slice(&(slots.len() as u64).to_le_bytes());
        let mut index: FxHashMap<&str, u64> = FxHashMap::default();
        index.reserve(if self.edges.is_empty() {
            0
        } else {
            slots.len()
        });
        for (position, slot) in slots.iter().enumerate() {
            let node = &slot.node;
            if !self.edges.is_empty() {
                index.insert(node.id.as_str(), position as u64);
            }
            put_bytes(&mut out, node.id.as_str().as_bytes());
            put_bytes(&mut out, node.kind.as_bytes());
            out.extend_from_slice(&node.version.to_le_bytes());
            put_len(&mut out, node.attrs.len());
            for (key, value) in &node.attrs {
                put_bytes(&mut out, key.as_bytes());
                encode_value(value, &mut out);
            }
        }
        out.extend_from_slice(&(self.edges.len() as u64).to_le_bytes());
        // Every edge's ends exist (apply and decode both enforce it), so the lookups hit;
        // were that ever broken, u64::MAX makes decoding refuse the snapshot loudly.
        let position = |id: &str| index.get(id).copied().unwrap_or(u64::MAX);
        for edge in &self.edges {
            out.extend_from_slice(&position(edge.from.as_str()).to_le_bytes());
            put_bytes(&mut out, edge.label.as_bytes());
            out.extend_from_slice(&position(edge.to.as_str()).to_le_bytes());
        }
        out
    }
}
