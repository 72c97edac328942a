//! Strict decoding of snapshots: anything but the canonical encoding of a valid graph is
//! refused, and no allocation exceeds what the input's length can justify.

use std::collections::BTreeMap;

use crate::{
    digest::{Accumulator, Delta, PendingElements},
    encode::{TAG_BLOB, TAG_BOOL, TAG_BYTES, TAG_INT, TAG_LIST, TAG_MAP, TAG_STR},
    error::FieldError,
    graph::{ByTarget, EdgeSet, Slot, SlotMap},
    id,
    limits::{ATTRS_PER_NODE_MAX, VALUE_DEPTH_MAX},
    snapshot::{FORMAT, MAGIC},
    snapshot_reader::Reader,
    validate::{check_attr_key, check_kind, check_label, check_value},
    BlobRef, Edge, Graph, Node, NodeId, SnapshotDecodeError, Value,
};

/// Fewest bytes a node takes: id and kind of one byte each, version, attribute count.
const NODE_BYTES_MIN: usize = 5 + 5 + 8 + 4;
/// Fewest bytes an attribute takes: a one-byte key and a bool.
const ATTR_BYTES_MIN: usize = 5 + 2;
/// Fewest bytes an edge takes: two indexes and a one-byte label.
const EDGE_BYTES_MIN: usize = 8 + 5 + 8;
/// Fewest bytes a list item takes: a bool.
const ITEM_BYTES_MIN: usize = 2;
/// Fewest bytes a map entry takes: an empty key and a bool.
const ENTRY_BYTES_MIN: usize = 4 + 2;

type Result<T> = std::result::Result<T, SnapshotDecodeError>;

impl Graph {
    /// Decodes a snapshot from `encode_snapshot`, strictly, and recomputes the digest from
    /// the content (compare it with a recorded one to prove the snapshot).
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Graph> {
        let mut reader = Reader::new(bytes);
        if reader.take(MAGIC.len()).ok() != Some(&MAGIC[..]) {
            return Err(SnapshotDecodeError::BadMagic);
        }
        let format = reader.u8()?;
        if format != FORMAT {
            return Err(SnapshotDecodeError::UnsupportedFormat {
                found: format,
                supported: FORMAT,
            });
        }
        let mut acc = Accumulator::default();
        let mut pending = PendingElements::new();
        let nodes = decode_nodes(&mut reader, &mut acc, &mut pending)?;
        let (edges, ends, degrees) = decode_edges(&mut reader, &nodes, &mut acc, &mut pending)?;
        pending.flush(&mut acc);
        reader.finish()?;

        // Each slot goes into the map once, with its degree: setting degrees afterwards
        // would walk the map again for every node with an edge.
        let mut slots = SlotMap::default();
        for (node, degree) in nodes.into_iter().zip(degrees) {
            slots.insert(node.id.clone(), Slot { node, degree });
        }
        // Node positions order like ids, so sorting by them avoids comparing id strings.
        let mut edges_in: Vec<(usize, usize, ByTarget)> = ends
            .iter()
            .zip(&edges)
            .map(|(&(from, to), edge)| (to, from, ByTarget(edge.clone())))
            .collect();
        edges_in.sort_unstable_by(|(to_a, from_a, a), (to_b, from_b, b)| {
            (to_a, &a.0.label, from_a).cmp(&(to_b, &b.0.label, from_b))
        });
        Ok(Graph {
            slots,
            // Both inputs are sorted, so the sets build in one pass.
            edges: edges.into_iter().collect::<EdgeSet<Edge>>(),
            edges_in: edges_in.into_iter().map(|(_, _, edge)| edge).collect(),
            acc,
            state: 0,
            state_last: 0,
        })
    }
}

/// Decodes the nodes, in id order: edges refer to them by position.
fn decode_nodes(
    reader: &mut Reader<'_>,
    acc: &mut Accumulator,
    pending: &mut PendingElements,
) -> Result<Vec<Node>> {
    let count = reader.count_u64(NODE_BYTES_MIN)?;
    let mut nodes: Vec<Node> = Vec::with_capacity(count);
    // Reused for every node: one allocation instead of one per node.
    let mut attrs: Vec<(String, Value)> = Vec::new();
    for _ in 0..count {
        let id_at = reader.offset();
        let id = reader.str()?;
        id::check(id).map_err(|problem| SnapshotDecodeError::InvalidNodeId {
            offset: id_at,
            problem,
        })?;
        if nodes.last().is_some_and(|prev| prev.id.as_str() >= id) {
            return Err(SnapshotDecodeError::NodesOutOfOrder { offset: id_at });
        }
        let id = NodeId::unchecked(id);
        let kind_at = reader.offset();
        let kind = reader.str()?;
        check_kind(kind).map_err(|problem| field_error(kind_at, problem))?;
        let version_at = reader.offset();
        let version = reader.u64()?;
        if version == 0 {
            return Err(SnapshotDecodeError::ZeroVersion {
                offset: version_at,
                id,
            });
        }
        let attrs_at = reader.offset();
        let attr_count = reader.count_u32(ATTR_BYTES_MIN)?;
        if attr_count > ATTRS_PER_NODE_MAX {
            return Err(field_error(
                attrs_at,
                FieldError::TooManyAttrs {
                    count: attr_count,
                    max: ATTRS_PER_NODE_MAX,
                },
            ));
        }
        attrs.clear();
        attrs.reserve(attr_count);
        for _ in 0..attr_count {
            let key_at = reader.offset();
            let key = reader.str()?;
            check_attr_key(key).map_err(|problem| field_error(key_at, problem))?;
            if attrs.last().is_some_and(|(prev, _)| prev.as_str() >= key) {
                return Err(SnapshotDecodeError::KeysOutOfOrder { offset: key_at });
            }
            let value_at = reader.offset();
            let value = decode_value(reader, 1)?;
            check_value(&value).map_err(|problem| field_error(value_at, problem))?;
            pending.attr(Delta::In, id.as_str(), key, &value);
            attrs.push((key.to_owned(), value));
        }
        pending.node(Delta::In, id.as_str(), kind);
        if pending.should_flush() {
            pending.flush(acc);
        }
        // Keys arrive sorted, so each insert lands at the end; for the few attributes a
        // node usually has this beats collecting, which sorts a fresh vector first.
        let mut map = BTreeMap::new();
        for (key, value) in attrs.drain(..) {
            map.insert(key, value);
        }
        nodes.push(Node {
            id,
            kind: kind.to_owned(),
            attrs: map,
            version,
        });
    }
    Ok(nodes)
}

/// The edges in order, the node positions of their ends, and each node's degree.
type DecodedEdges = (Vec<Edge>, Vec<(usize, usize)>, Vec<usize>);

/// Decodes the edges.
fn decode_edges(
    reader: &mut Reader<'_>,
    nodes: &[Node],
    acc: &mut Accumulator,
    pending: &mut PendingElements,
) -> Result<DecodedEdges> {
    let count = reader.count_u64(EDGE_BYTES_MIN)?;
    let mut edges: Vec<Edge> = Vec::with_capacity(count);
    let mut ends: Vec<(usize, usize)> = Vec::with_capacity(count);
    let mut degrees = vec![0usize; nodes.len()];
    let mut prev: Option<(usize, usize)> = None;
    for _ in 0..count {
        let edge_at = reader.offset();
        let from = reader.node_index(nodes.len())?;
        let label_at = reader.offset();
        let label = reader.str()?;
        check_label(label).map_err(|problem| field_error(label_at, problem))?;
        let to = reader.node_index(nodes.len())?;
        // Node indexes follow id order, so comparing indexes compares ids.
        if let (Some((prev_from, prev_to)), Some(prev_edge)) = (prev, edges.last()) {
            if (prev_from, prev_edge.label.as_str(), prev_to) >= (from, label, to) {
                return Err(SnapshotDecodeError::EdgesOutOfOrder { offset: edge_at });
            }
        }
        prev = Some((from, to));
        ends.push((from, to));
        let (Some(from_node), Some(to_node)) = (nodes.get(from), nodes.get(to)) else {
            // node_index bounds both; kept total rather than indexing.
            return Err(SnapshotDecodeError::EdgeEndpointMissing {
                offset: edge_at,
                index: from.max(to) as u64,
                node_count: nodes.len(),
            });
        };
        // A self-loop touches its node once.
        let ends = if from == to {
            [Some(from), None]
        } else {
            [Some(from), Some(to)]
        };
        for end in ends.into_iter().flatten() {
            if let Some(degree) = degrees.get_mut(end) {
                *degree += 1;
            }
        }
        let (from_id, to_id) = (&from_node.id, &to_node.id);
        pending.edge(Delta::In, from_id.as_str(), label, to_id.as_str());
        if pending.should_flush() {
            pending.flush(acc);
        }
        edges.push(Edge {
            from: from_id.clone(),
            label: label.to_owned(),
            to: to_id.clone(),
        });
    }
    Ok((edges, ends, degrees))
}

fn decode_value(reader: &mut Reader<'_>, depth: usize) -> Result<Value> {
    let at = reader.offset();
    if depth > VALUE_DEPTH_MAX {
        return Err(field_error(
            at,
            FieldError::ValueTooDeep {
                max: VALUE_DEPTH_MAX,
            },
        ));
    }
    let value = match reader.u8()? {
        TAG_STR => Value::Str(reader.str()?.to_owned()),
        TAG_INT => Value::Int(i64::from_le_bytes(reader.array()?)),
        TAG_BOOL => match reader.u8()? {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            byte => {
                return Err(SnapshotDecodeError::BadBool {
                    offset: at + 1,
                    byte,
                })
            }
        },
        TAG_BYTES => Value::Bytes(reader.bytes()?.to_vec()),
        TAG_BLOB => Value::Blob(BlobRef(reader.array()?)),
        TAG_LIST => {
            let count = reader.count_u32(ITEM_BYTES_MIN)?;
            let mut items = Vec::with_capacity(count);
            for _ in 0..count {
                items.push(decode_value(reader, depth + 1)?);
            }
            Value::List(items)
        }
        TAG_MAP => {
            let count = reader.count_u32(ENTRY_BYTES_MIN)?;
            let mut entries: Vec<(String, Value)> = Vec::with_capacity(count);
            for _ in 0..count {
                let key_at = reader.offset();
                let key = reader.str()?;
                if entries.last().is_some_and(|(prev, _)| prev.as_str() >= key) {
                    return Err(SnapshotDecodeError::KeysOutOfOrder { offset: key_at });
                }
                let value = decode_value(reader, depth + 1)?;
                entries.push((key.to_owned(), value));
            }
            Value::Map(entries.into_iter().collect::<BTreeMap<_, _>>())
        }
        tag => return Err(SnapshotDecodeError::BadValueTag { offset: at, tag }),
    };
    Ok(value)
}

fn field_error(offset: usize, problem: FieldError) -> SnapshotDecodeError {
    SnapshotDecodeError::InvalidField { offset, problem }
}
