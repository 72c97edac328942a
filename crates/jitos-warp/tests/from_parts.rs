//! `Graph::from_parts` builds the same graph, digest, versions and degrees included, as
//! the rewrites that made its parts, and refuses malformed parts with a typed error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{Graph, GraphBuildError};

fn built_by_rewrites() -> Graph {
    let mut graph = Graph::new();
    graph
        .apply(&rw(vec![
            add_with("a", "Task", &[("n", 1.into()), ("s", "x".into())]),
            add("b", "File"),
            add("c", "File"),
            link("a", "uses", "b"),
            link("b", "next", "c"),
            link("c", "self", "c"),
            set("b", "k", true),
        ]))
        .unwrap();
    graph
}

#[test]
fn digest_versions_and_degrees_match_the_rewritten_graph() {
    // Goal: from_parts of a graph's nodes and edges is that graph. Method: rebuild a graph
    // made by rewrites from its parts, compare digest, nodes and edges, then check degrees
    // by removing a node without cascade (refused while edges touch it) and with it.
    let graph = built_by_rewrites();
    let rebuilt = Graph::from_parts(graph.nodes().cloned(), graph.edges().cloned()).unwrap();
    assert_eq!(rebuilt.digest(), graph.digest());
    assert!(rebuilt.nodes().eq(graph.nodes()));
    assert!(rebuilt.edges().eq(graph.edges()));
    assert_eq!(rebuilt.edges_of("b"), graph.edges_of("b"));

    let mut a = graph.clone();
    let mut b = rebuilt;
    for ops in [vec![remove("b", false)], vec![remove("c", true)]] {
        let left = a.apply(&rw(ops.clone())).map(|_| ());
        let right = b.apply(&rw(ops)).map(|_| ());
        assert_eq!(left, right);
        assert_eq!(a.digest(), b.digest());
        assert!(a.nodes().eq(b.nodes()));
    }
}

#[test]
fn malformed_parts_are_refused() {
    // Goal: each structural fault gets its own error. Method: build from faulty parts.
    let graph = built_by_rewrites();
    let node_a = graph.node("a").unwrap().clone();
    let twice = Graph::from_parts([node_a.clone(), node_a.clone()], []);
    assert!(matches!(twice, Err(GraphBuildError::DuplicateNode { .. })));
    let dangling = Graph::from_parts([node_a.clone()], [edge("a", "uses", "b")]);
    assert!(
        matches!(dangling, Err(GraphBuildError::MissingEndpoint { missing, .. }) if missing == id("b"))
    );
    let loop_twice = Graph::from_parts([node_a], [edge("a", "l", "a"), edge("a", "l", "a")]);
    assert!(matches!(
        loop_twice,
        Err(GraphBuildError::DuplicateEdge { .. })
    ));
}
