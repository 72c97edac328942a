//! Property tests of the algebra of rewrites: inverse and undo restore, the digest ignores
//! insertion order, refused rewrites change nothing, snapshots round-trip.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;
use jitos_warp::{Graph, Op, Rewrite, Value};
use proptest::prelude::*;

const IDS: &[&str] = &["a", "b", "c", "d", "e", "f"];
const KEYS: &[&str] = &["k", "state", "n"];
const LABELS: &[&str] = &["x", "y"];

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::Int),
        any::<bool>().prop_map(Value::Bool),
        "[a-z]{0,6}".prop_map(Value::Str),
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(Value::Bytes),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::List),
            proptest::collection::btree_map("[a-z]{1,3}", inner, 0..3).prop_map(Value::Map),
        ]
    })
}

fn pick(options: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    proptest::sample::select(options)
}

/// Any op over a small universe of ids, keys and labels: many will not apply.
fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            pick(IDS),
            proptest::collection::btree_map(pick(KEYS), value(), 0..2)
        )
            .prop_map(|(id, attrs)| Op::AddNode {
                id: common::id(id),
                kind: "K".into(),
                attrs: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
            }),
        (pick(IDS), any::<bool>()).prop_map(|(id, cascade)| remove(id, cascade)),
        (pick(IDS), pick(KEYS), value()).prop_map(|(id, key, v)| set(id, key, v)),
        (pick(IDS), pick(KEYS)).prop_map(|(id, key)| unset(id, key)),
        (pick(IDS), pick(LABELS), pick(IDS)).prop_map(|(f, l, t)| link(f, l, t)),
        (pick(IDS), pick(LABELS), pick(IDS)).prop_map(|(f, l, t)| unlink(f, l, t)),
    ]
}

/// A graph from applying each candidate op on its own, keeping those that apply.
fn build(candidates: &[Op]) -> Graph {
    let mut graph = Graph::new();
    for op in candidates {
        let _ = graph.apply(&rw(vec![op.clone()]));
    }
    graph
}

/// The candidates that apply in sequence on `graph`: together a valid rewrite for it.
fn valid_rewrite(graph: &Graph, candidates: &[Op]) -> Rewrite {
    let mut scratch = graph.clone();
    let ops = candidates
        .iter()
        .filter(|op| scratch.apply(&rw(vec![(*op).clone()])).is_ok())
        .cloned()
        .collect();
    rw(ops)
}

fn content(graph: &Graph) -> Vec<(String, String, BTreeMap<String, Value>)> {
    graph
        .nodes()
        .map(|n| (n.id.to_string(), n.kind.clone(), n.attrs.clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn inverse_restores_digest_and_content(
        setup in proptest::collection::vec(op(), 0..30),
        candidates in proptest::collection::vec(op(), 1..30),
    ) {
        // Goal: applying a valid rewrite and then its inverse gives back the digest, the
        // nodes with their attributes, and the edges.
        let mut graph = build(&setup);
        let (digest, nodes, edges) =
            (graph.digest(), content(&graph), graph.edges().cloned().collect::<Vec<_>>());
        let rewrite = valid_rewrite(&graph, &candidates);
        let applied = graph.apply(&rewrite).unwrap();
        let inverse = applied.inverse();
        inverse.validate().unwrap();
        graph.apply(&inverse).unwrap();
        prop_assert_eq!(graph.digest(), digest);
        prop_assert_eq!(content(&graph), nodes);
        prop_assert_eq!(graph.edges().cloned().collect::<Vec<_>>(), edges);
    }

    #[test]
    fn undo_restores_exactly(
        setup in proptest::collection::vec(op(), 0..30),
        batches in proptest::collection::vec(proptest::collection::vec(op(), 1..12), 1..4),
    ) {
        // Goal: several applies undone newest first restore the exact snapshot bytes
        // (versions included) and the digest.
        let mut graph = build(&setup);
        let (digest, snapshot) = (graph.digest(), graph.encode_snapshot());
        let mut applied = Vec::new();
        for batch in &batches {
            let rewrite = valid_rewrite(&graph, batch);
            applied.push(graph.apply(&rewrite).unwrap());
        }
        for done in applied.into_iter().rev() {
            graph.undo(done);
        }
        prop_assert_eq!(graph.digest(), digest);
        prop_assert_eq!(graph.encode_snapshot(), snapshot);
    }

    #[test]
    fn refused_rewrites_change_nothing(
        setup in proptest::collection::vec(op(), 0..30),
        candidates in proptest::collection::vec(op(), 1..20),
        position in any::<prop::sample::Index>(),
    ) {
        // Goal: a rewrite whose op at a random position fails leaves the digest and the
        // snapshot bytes exactly as they were.
        let mut graph = build(&setup);
        let (digest, snapshot) = (graph.digest(), graph.encode_snapshot());
        let mut rewrite = valid_rewrite(&graph, &candidates);
        let at = position.index(rewrite.ops.len() + 1);
        rewrite.ops.insert(at, set("never-added", "k", 1));
        let error = graph.apply(&rewrite).unwrap_err();
        let failed_at = matches!(error, jitos_warp::RewriteError::MissingNode { index, .. } if index == at);
        prop_assert!(failed_at, "unexpected error {:?}", error);
        prop_assert_eq!(graph.digest(), digest);
        prop_assert_eq!(graph.encode_snapshot(), snapshot);
    }

    #[test]
    fn digest_ignores_insertion_order(
        nodes in proptest::collection::btree_map(pick(IDS), proptest::collection::btree_map(pick(KEYS), value(), 0..3), 1..6),
        edges in proptest::collection::btree_set((pick(IDS), pick(LABELS), pick(IDS)), 0..8),
        inline in proptest::collection::vec(any::<bool>(), 6),
        order in any::<u64>(),
    ) {
        // Goal: the same content built in two different orders, once with attributes set
        // one by one and once partly inline in add_node (and with a temporary element
        // added and removed), has the same digest.
        let edges: Vec<_> = edges
            .into_iter()
            .filter(|(f, _, t)| nodes.contains_key(f) && nodes.contains_key(t))
            .collect();
        let forward = build_in_order(&nodes, &edges, &[false; 6], 0);
        let shuffled = build_in_order(&nodes, &edges, &inline, order);
        prop_assert_eq!(forward.digest(), shuffled.digest());
        prop_assert_eq!(content(&forward), content(&shuffled));
    }

    #[test]
    fn decoding_accepts_only_canonical_snapshots(
        setup in proptest::collection::vec(op(), 0..30),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        // Goal: a snapshot with random bytes changed either is refused or decodes to a
        // graph that encodes back to exactly those bytes (only canonical encodings of
        // valid graphs are accepted), and decoding never panics.
        let mut bytes = build(&setup).encode_snapshot();
        for (at, byte) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= byte | 1;
        }
        if let Ok(graph) = Graph::decode_snapshot(&bytes) {
            prop_assert_eq!(graph.encode_snapshot(), bytes);
        }
    }

    #[test]
    fn snapshots_round_trip(setup in proptest::collection::vec(op(), 0..40)) {
        // Goal: decode(encode(g)) has the digest, versions and bytes of g.
        let graph = build(&setup);
        let bytes = graph.encode_snapshot();
        let back = Graph::decode_snapshot(&bytes).unwrap();
        prop_assert_eq!(back.digest(), graph.digest());
        prop_assert_eq!(back.encode_snapshot(), bytes);
        let versions = |g: &Graph| g.nodes().map(|n| n.version).collect::<Vec<_>>();
        prop_assert_eq!(versions(&back), versions(&graph));
    }
}

type Attrs = BTreeMap<&'static str, BTreeMap<&'static str, Value>>;

/// Builds `nodes` and `edges` one op per rewrite in an order scrambled by `seed`; nodes
/// flagged in `inline` get their attributes in add_node. A temporary node, attribute and
/// edge come and go on the way.
fn build_in_order(
    nodes: &Attrs,
    edges: &[(&'static str, &'static str, &'static str)],
    inline: &[bool],
    seed: u64,
) -> Graph {
    let mut ops: Vec<Op> = Vec::new();
    for (i, (id, attrs)) in nodes.iter().enumerate() {
        if inline.get(i).copied().unwrap_or(false) {
            ops.push(Op::AddNode {
                id: common::id(id),
                kind: "K".into(),
                attrs: attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), v.clone()))
                    .collect(),
            });
        } else {
            ops.push(add(id, "K"));
            ops.extend(attrs.iter().map(|(k, v)| set(id, k, v.clone())));
        }
    }
    ops.extend(edges.iter().map(|(f, l, t)| link(f, l, t)));
    // A deterministic scramble: sort by a keyed hash of the position.
    let mut keyed: Vec<(u64, Op)> = ops
        .into_iter()
        .enumerate()
        .map(|(i, op)| {
            (
                (i as u64 + 1).wrapping_mul(seed | 1).rotate_left(17) ^ seed,
                op,
            )
        })
        .collect();
    keyed.sort_by_key(|(k, _)| *k);
    let mut graph = Graph::new();
    let mut pending: Vec<Op> = keyed.into_iter().map(|(_, op)| op).collect();
    // Ops whose nodes do not exist yet wait for a later pass.
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|op| graph.apply(&rw(vec![op.clone()])).is_err());
        assert!(pending.len() < before, "no progress building the graph");
    }
    graph
        .apply(&rw(vec![
            add("temp", "T"),
            set("temp", "k", 1),
            link("temp", "x", "temp"),
            remove("temp", true),
        ]))
        .unwrap();
    graph
}
