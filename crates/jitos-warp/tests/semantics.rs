//! The meaning of apply: versions, touched nodes, cascades, the inverse, undo, and the
//! read API's ordering.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{Graph, NodeId, Value};

fn version(graph: &Graph, node: &str) -> u64 {
    graph.node(node).unwrap().version
}

#[test]
fn versions_count_changes_to_attrs_and_edges() {
    // Goal: a node starts at version 1 and gains one per op that changes its attributes
    // or incident edges; ops on other nodes leave it alone.
    let mut g = graph(vec![add("a", "K"), add("b", "K")]);
    assert_eq!(version(&g, "a"), 1);
    g.apply(&rw(vec![
        set("a", "x", 1),
        set("a", "y", 2),
        unset("a", "x"),
    ]))
    .unwrap();
    assert_eq!(version(&g, "a"), 4);
    g.apply(&rw(vec![link("a", "l", "b")])).unwrap();
    assert_eq!((version(&g, "a"), version(&g, "b")), (5, 2));
    g.apply(&rw(vec![link("a", "self", "a")])).unwrap();
    assert_eq!(version(&g, "a"), 6, "a self-loop counts once");
    g.apply(&rw(vec![set("b", "z", 1)])).unwrap();
    assert_eq!(version(&g, "a"), 6);
}

#[test]
fn setting_the_same_value_changes_nothing() {
    // Goal: set_attr of the value already held is a no-op: same version, nothing touched.
    let mut g = graph(vec![add_with("a", "K", &[("x", Value::Int(1))])]);
    let applied = g.apply(&rw(vec![set("a", "x", 1)])).unwrap();
    assert!(applied.is_noop());
    assert!(applied.touched().is_empty());
    assert_eq!(version(&g, "a"), 1);
}

#[test]
fn cascade_removes_edges_and_bumps_neighbours_once() {
    // Goal: a cascading removal takes the node's edges (in, out, self-loop), bumps each
    // neighbour's version once however many edges it lost, and touches all of them.
    let mut g = graph(vec![
        add("hub", "K"),
        add("n1", "K"),
        add("n2", "K"),
        add("far", "K"),
        link("hub", "a", "n1"),
        link("hub", "b", "n1"),
        link("n2", "a", "hub"),
        link("hub", "self", "hub"),
        link("n1", "a", "far"),
    ]);
    let (v1, v2, vfar) = (version(&g, "n1"), version(&g, "n2"), version(&g, "far"));
    let applied = g.apply(&rw(vec![remove("hub", true)])).unwrap();
    assert!(g.node("hub").is_none());
    assert_eq!(
        g.edges().cloned().collect::<Vec<_>>(),
        vec![edge("n1", "a", "far")]
    );
    assert_eq!(version(&g, "n1"), v1 + 1);
    assert_eq!(version(&g, "n2"), v2 + 1);
    assert_eq!(version(&g, "far"), vfar);
    let touched: Vec<&str> = applied.touched().iter().map(NodeId::as_str).collect();
    assert_eq!(touched, vec!["hub", "n1", "n2"]);
}

#[test]
fn touched_lists_every_changed_node_once_in_order() {
    // Goal: touched holds each node whose existence, attributes or edges changed.
    let mut g = sample();
    let applied = g
        .apply(&rw(vec![
            set("task:2", "x", 1),
            set("task:2", "y", 1),
            unlink("task:1", "touches", "file:a"),
            add("new", "K"),
        ]))
        .unwrap();
    let touched: Vec<&str> = applied.touched().iter().map(NodeId::as_str).collect();
    assert_eq!(touched, vec!["file:a", "new", "task:1", "task:2"]);
}

#[test]
fn inverse_restores_content_and_undo_restores_everything() {
    // Goal: the inverse rewrite brings the digest and content back (versions move on);
    // undo brings back the exact snapshot, versions included.
    let ops = vec![
        set("task:1", "title", "changed"),
        unset("task:1", "prio"),
        set("task:2", "new", Value::List(vec![Value::Bool(true)])),
        add_with("x", "K", &[("a", Value::Int(1))]),
        link("x", "to", "task:2"),
        remove("file:a", true),
    ];
    let mut g = sample();
    let (digest, snapshot) = (g.digest(), g.encode_snapshot());
    let applied = g.apply(&rw(ops.clone())).unwrap();
    assert_ne!(g.digest(), digest);
    g.apply(&applied.inverse()).unwrap();
    assert_eq!(g.digest(), digest);
    assert_eq!(
        g.nodes()
            .map(|n| (&n.id, &n.kind, &n.attrs))
            .collect::<Vec<_>>(),
        sample()
            .nodes()
            .map(|n| (&n.id, &n.kind, &n.attrs))
            .collect::<Vec<_>>()
    );
    assert_ne!(
        g.encode_snapshot(),
        snapshot,
        "the inverse does not rewind versions"
    );

    let mut g = sample();
    let applied = g.apply(&rw(ops)).unwrap();
    g.undo(applied);
    assert_eq!(g.digest(), digest);
    assert_eq!(g.encode_snapshot(), snapshot);
}

#[test]
fn undo_several_in_reverse_order() {
    // Goal: the kernel's rollback pattern (several applies, undone newest first) restores
    // the graph exactly, and the graph stays usable afterwards.
    let mut g = sample();
    let snapshot = g.encode_snapshot();
    let a = g.apply(&rw(vec![set("task:1", "k", 1)])).unwrap();
    let b = g.apply(&rw(vec![remove("task:1", true)])).unwrap();
    let c = g.apply(&rw(vec![add("task:1", "Other")])).unwrap();
    g.undo(c);
    g.undo(b);
    g.undo(a);
    assert_eq!(g.encode_snapshot(), snapshot);
    g.apply(&rw(vec![set("task:1", "k", 2)])).unwrap();
    assert_eq!(version(&g, "task:1"), 4);
}

#[test]
fn read_api_orders_nodes_and_edges() {
    // Goal: nodes come in id order, edges in (from, label, to) order, edges_of gives in
    // and out edges once each, and the counts agree.
    let g = graph(vec![
        add("b", "K"),
        add("c", "K"),
        add("a", "K"),
        link("c", "x", "a"),
        link("a", "y", "b"),
        link("a", "x", "c"),
        link("b", "x", "b"),
    ]);
    let ids: Vec<&str> = g.nodes().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
    let edges: Vec<_> = g.edges().cloned().collect();
    assert_eq!(
        edges,
        vec![
            edge("a", "x", "c"),
            edge("a", "y", "b"),
            edge("b", "x", "b"),
            edge("c", "x", "a")
        ]
    );
    assert_eq!(
        g.edges_of("a"),
        vec![
            edge("a", "x", "c"),
            edge("a", "y", "b"),
            edge("c", "x", "a")
        ]
    );
    assert_eq!(
        g.edges_of("b"),
        vec![edge("a", "y", "b"), edge("b", "x", "b")]
    );
    assert!(g.edges_of("nope").is_empty());
    assert_eq!((g.node_count(), g.edge_count(), g.attr_count()), (3, 4, 0));
    assert!(g.contains_edge(&edge("b", "x", "b")));
    assert!(!g.contains_node("d"));
}

#[test]
fn empty_rewrite_is_accepted_and_changes_nothing() {
    // Goal: a rewrite with no ops (only expects, or nothing) is a valid no-op.
    let mut g = sample();
    let digest = g.digest();
    let applied = g.apply(&rw(vec![])).unwrap();
    assert!(applied.is_noop());
    assert_eq!(g.digest(), digest);
}

#[test]
fn node_ids_follow_their_rules() {
    // Goal: ids are 1..=256 bytes without control characters or whitespace at the ends.
    assert!(NodeId::new("task:1").is_ok());
    assert!(NodeId::new("a b").is_ok());
    assert!(NodeId::new("ü").is_ok());
    assert!(NodeId::new("x".repeat(256)).is_ok());
    assert_eq!(NodeId::new(""), Err(jitos_warp::IdError::Empty));
    assert!(matches!(
        NodeId::new("x".repeat(257)),
        Err(jitos_warp::IdError::TooLong {
            bytes: 257,
            max: 256
        })
    ));
    assert_eq!(
        NodeId::new("a\tb"),
        Err(jitos_warp::IdError::ControlChar {
            position: 1,
            code: 9
        })
    );
    assert_eq!(NodeId::new(" a"), Err(jitos_warp::IdError::Whitespace));
    assert_eq!(NodeId::new("a\u{a0}"), Err(jitos_warp::IdError::Whitespace));
}

#[test]
fn digest_displays_as_lowercase_hex_and_parses_back() {
    // Goal: Display and Debug give 64 lowercase hex digits, FromStr reads them back.
    let digest = sample().digest();
    let text = digest.to_string();
    assert_eq!(text.len(), 64);
    assert!(text
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    assert_eq!(format!("{digest:?}"), text);
    assert_eq!(text.parse::<jitos_warp::StateDigest>().unwrap(), digest);
    assert!("zz".parse::<jitos_warp::StateDigest>().is_err());
}

#[test]
fn large_rewrites_hash_like_single_ops() {
    // Goal: a rewrite big enough to flush its pending element hashes several times gives
    // the same digest as the same ops applied one at a time.
    let ops: Vec<_> = (0..6000)
        .flat_map(|i| {
            let node = format!("n{i}");
            vec![add(&node, "K"), set(&node, "v", i as i64)]
        })
        .collect();
    let mut one_by_one = Graph::new();
    for op in &ops {
        one_by_one.apply(&rw(vec![op.clone()])).unwrap();
    }
    assert_eq!(graph(ops).digest(), one_by_one.digest());
}

#[test]
fn shared_types_cross_threads() {
    // Goal: the kernel may move graphs and apply results between threads and share them
    // read-only; this fails to compile if a type loses Send or Sync.
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Graph>();
    assert_send_sync::<jitos_warp::Applied>();
    assert_send_sync::<jitos_warp::Rewrite>();
    assert_send_sync::<jitos_warp::RewriteError>();
    assert_send_sync::<jitos_warp::SnapshotDecodeError>();
    assert_send_sync::<jitos_warp::RewriteJsonError>();
}
