//! Snapshot decoding is strict: only the canonical encoding of a valid graph decodes, and
//! hostile lengths cannot make it allocate or read beyond the input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{FieldError, Graph, IdError, SnapshotDecodeError, Value};

/// A writer for hand-made snapshots in the documented layout.
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn header() -> Bytes {
        let mut b = Bytes::default();
        b.0.extend_from_slice(b"JWSN\x01");
        b
    }
    fn u8(mut self, v: u8) -> Self {
        self.0.push(v);
        self
    }
    fn u32(mut self, v: u32) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(mut self, v: u64) -> Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(self, s: &str) -> Self {
        let mut b = self.u32(s.len() as u32);
        b.0.extend_from_slice(s.as_bytes());
        b
    }
    /// A node with no attributes.
    fn node(self, id: &str, version: u64) -> Self {
        self.str(id).str("K").u64(version).u32(0)
    }
}

fn decode(bytes: &[u8]) -> SnapshotDecodeError {
    Graph::decode_snapshot(bytes).expect_err("the snapshot should be refused")
}

#[test]
fn round_trips_with_digest_and_versions() {
    // Goal: decode(encode(g)) has the same digest, versions and bytes.
    let mut g = sample();
    g.apply(&rw(vec![set("task:2", "big", Value::Bytes(vec![7; 300]))]))
        .unwrap();
    let bytes = g.encode_snapshot();
    let back = Graph::decode_snapshot(&bytes).unwrap();
    assert_eq!(back.digest(), g.digest());
    assert_eq!(back.encode_snapshot(), bytes);
    assert_eq!(back.node("task:1").unwrap().version, 3);
    assert_eq!(back.edges_of("file:a"), g.edges_of("file:a"));
    let empty = Graph::new().encode_snapshot();
    assert_eq!(
        Graph::decode_snapshot(&empty).unwrap().digest(),
        Graph::new().digest()
    );
}

#[test]
fn decoded_graphs_accept_further_rewrites() {
    // Goal: a decoded graph is fully functional: degrees and indexes are rebuilt, so a
    // removal without cascade is refused and one with cascade works.
    let mut g = Graph::decode_snapshot(&sample().encode_snapshot()).unwrap();
    assert!(g.apply(&rw(vec![remove("file:a", false)])).is_err());
    let applied = g.apply(&rw(vec![remove("file:a", true)])).unwrap();
    assert_eq!(g.edge_count(), 1);
    g.undo(applied);
    assert_eq!(g.encode_snapshot(), sample().encode_snapshot());
}

#[test]
fn header_errors() {
    // Goal: wrong magic, unknown format and trailing bytes are refused.
    assert_eq!(decode(b""), SnapshotDecodeError::BadMagic);
    assert_eq!(decode(b"JWSX\x01"), SnapshotDecodeError::BadMagic);
    assert_eq!(
        decode(b"JWSN\x02"),
        SnapshotDecodeError::UnsupportedFormat {
            found: 2,
            supported: 1
        }
    );
    let mut bytes = Graph::new().encode_snapshot();
    bytes.push(0);
    assert_eq!(
        decode(&bytes),
        SnapshotDecodeError::TrailingBytes {
            offset: 21,
            count: 1
        }
    );
}

#[test]
fn every_truncation_is_refused() {
    // Goal: cutting a valid snapshot anywhere gives an error, never a panic or a graph.
    let bytes = sample().encode_snapshot();
    for len in 0..bytes.len() {
        assert!(
            Graph::decode_snapshot(&bytes[..len]).is_err(),
            "length {len}"
        );
    }
}

#[test]
fn huge_counts_do_not_allocate() {
    // Goal: a count the input cannot back is refused before any allocation.
    let bytes = Bytes::header().u64(u64::MAX).0;
    assert_eq!(
        decode(&bytes),
        SnapshotDecodeError::CountTooLarge {
            offset: 5,
            count: u64::MAX,
            remaining: 0
        }
    );
    let bytes = Bytes::header()
        .u64(1)
        .str("a")
        .str("K")
        .u64(1)
        .u32(u32::MAX)
        .0;
    assert!(matches!(
        decode(&bytes),
        SnapshotDecodeError::CountTooLarge { .. }
    ));
    let bytes = Bytes::header()
        .u64(1)
        .str("a")
        .str("K")
        .u64(1)
        .u32(1)
        .str("k")
        .u8(6)
        .u32(u32::MAX)
        .0;
    assert!(matches!(
        decode(&bytes),
        SnapshotDecodeError::CountTooLarge { .. }
    ));
    let mut bytes = Bytes::header().u64(1).u32(u32::MAX).0;
    bytes.extend_from_slice(&[0; 30]);
    assert!(matches!(
        decode(&bytes),
        SnapshotDecodeError::Truncated { offset: 17, .. }
    ));
}

#[test]
fn node_order_and_content_are_checked() {
    // Goal: unsorted or duplicate ids, bad ids, empty kinds and version 0 are refused.
    let unsorted = Bytes::header().u64(2).node("b", 1).node("a", 1).u64(0).0;
    assert!(matches!(
        decode(&unsorted),
        SnapshotDecodeError::NodesOutOfOrder { .. }
    ));
    let duplicate = Bytes::header().u64(2).node("a", 1).node("a", 1).u64(0).0;
    assert!(matches!(
        decode(&duplicate),
        SnapshotDecodeError::NodesOutOfOrder { .. }
    ));
    let bad_id = Bytes::header().u64(1).node(" a", 1).u64(0).0;
    assert_eq!(
        decode(&bad_id),
        SnapshotDecodeError::InvalidNodeId {
            offset: 13,
            problem: IdError::Whitespace
        }
    );
    let no_kind = Bytes::header()
        .u64(1)
        .str("a")
        .str("")
        .u64(1)
        .u32(0)
        .u64(0)
        .0;
    assert!(matches!(
        decode(&no_kind),
        SnapshotDecodeError::InvalidField {
            problem: FieldError::Empty { .. },
            ..
        }
    ));
    let zero = Bytes::header().u64(1).node("a", 0).u64(0).0;
    assert!(matches!(
        decode(&zero),
        SnapshotDecodeError::ZeroVersion { .. }
    ));
    let mut not_utf8 = Bytes::header().u64(1).u32(1).0;
    not_utf8.push(0xff);
    not_utf8.extend_from_slice(&Bytes::default().str("K").u64(1).u32(0).u64(0).0);
    assert!(matches!(
        decode(&not_utf8),
        SnapshotDecodeError::InvalidUtf8 { offset: 13 }
    ));
}

#[test]
fn attribute_and_value_encodings_are_checked() {
    // Goal: unsorted keys, unknown tags, non-0/1 booleans, reserved map keys and
    // over-deep values are refused.
    let attrs = |body: Bytes| -> Vec<u8> {
        let mut b = Bytes::header().u64(1).str("a").str("K").u64(1);
        b.0.extend_from_slice(&body.0);
        b.u64(0).0
    };
    let unsorted = attrs(
        Bytes::default()
            .u32(2)
            .str("b")
            .u8(3)
            .u8(1)
            .str("a")
            .u8(3)
            .u8(1),
    );
    assert!(matches!(
        decode(&unsorted),
        SnapshotDecodeError::KeysOutOfOrder { .. }
    ));
    let bad_tag = attrs(Bytes::default().u32(1).str("a").u8(0x09));
    assert!(matches!(
        decode(&bad_tag),
        SnapshotDecodeError::BadValueTag { tag: 9, .. }
    ));
    let bad_bool = attrs(Bytes::default().u32(1).str("a").u8(3).u8(2));
    assert!(matches!(
        decode(&bad_bool),
        SnapshotDecodeError::BadBool { byte: 2, .. }
    ));
    let map_unsorted = attrs(
        Bytes::default()
            .u32(1)
            .str("a")
            .u8(7)
            .u32(2)
            .str("y")
            .u8(3)
            .u8(0)
            .str("x")
            .u8(3)
            .u8(0),
    );
    assert!(matches!(
        decode(&map_unsorted),
        SnapshotDecodeError::KeysOutOfOrder { .. }
    ));
    let reserved = attrs(
        Bytes::default()
            .u32(1)
            .str("a")
            .u8(7)
            .u32(1)
            .str("$x")
            .u8(3)
            .u8(0),
    );
    assert!(matches!(
        decode(&reserved),
        SnapshotDecodeError::InvalidField {
            problem: FieldError::ReservedMapKey { .. },
            ..
        }
    ));
    let mut deep = Bytes::default().u32(1).str("a");
    for _ in 0..40 {
        deep = deep.u8(6).u32(1);
    }
    let deep = attrs(deep.u8(3).u8(0));
    assert!(matches!(
        decode(&deep),
        SnapshotDecodeError::InvalidField {
            problem: FieldError::ValueTooDeep { .. },
            ..
        }
    ));
}

#[test]
fn edge_order_and_endpoints_are_checked() {
    // Goal: edges to missing nodes, unsorted or duplicate edges and empty labels are
    // refused.
    let two = || Bytes::header().u64(2).node("a", 1).node("b", 1);
    let missing = two().u64(1).u64(0).str("l").u64(2).0;
    assert!(matches!(
        decode(&missing),
        SnapshotDecodeError::EdgeEndpointMissing {
            index: 2,
            node_count: 2,
            ..
        }
    ));
    let unsorted = two().u64(2).u64(1).str("l").u64(0).u64(0).str("l").u64(1).0;
    assert!(matches!(
        decode(&unsorted),
        SnapshotDecodeError::EdgesOutOfOrder { .. }
    ));
    let duplicate = two().u64(2).u64(0).str("l").u64(1).u64(0).str("l").u64(1).0;
    assert!(matches!(
        decode(&duplicate),
        SnapshotDecodeError::EdgesOutOfOrder { .. }
    ));
    // One spare byte gets past the count check (a real edge is at least 21 bytes).
    let no_label = two().u64(1).u64(0).str("").u64(1).u8(0).0;
    assert!(matches!(
        decode(&no_label),
        SnapshotDecodeError::InvalidField { .. }
    ));
    let ok = two().u64(2).u64(0).str("l").u64(1).u64(0).str("m").u64(0).0;
    let g = Graph::decode_snapshot(&ok).unwrap();
    assert_eq!(
        g.edges_of("a"),
        vec![edge("a", "l", "b"), edge("a", "m", "a")]
    );
}
