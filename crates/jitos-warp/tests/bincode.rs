//! Rewrites, nodes, edges and digests round-trip through bincode in serde mode, the
//! non-self-describing format the ledger and the wire protocol use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{BlobRef, Edge, Expect, Node, Rewrite, StateDigest, Value};
use serde::{de::DeserializeOwned, Serialize};

fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    let bytes = bincode::serde::encode_to_vec(value, bincode::config::standard()).unwrap();
    let (back, used) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(used, bytes.len());
    back
}

fn every_value() -> Value {
    Value::List(vec![
        Value::from("text"),
        Value::Int(-1),
        Value::Int(i64::MAX),
        Value::Bool(true),
        Value::Bytes(vec![0, 1, 255]),
        Value::Blob(BlobRef([9; 32])),
        Value::Map(
            [
                ("a".to_owned(), Value::List(vec![])),
                ("b".to_owned(), Value::Map(Default::default())),
            ]
            .into(),
        ),
    ])
}

#[test]
fn rewrites_round_trip() {
    // Goal: every op, expect and value kind survives bincode unchanged.
    let rewrite = Rewrite {
        ops: vec![
            add_with("t", "Task", &[("v", every_value())]),
            remove("t", true),
            set("t", "k", every_value()),
            unset("t", "k"),
            link("t", "l", "u"),
            unlink("t", "l", "u"),
        ],
        expect: vec![
            Expect::NodeExists { node: id("t") },
            Expect::NodeAbsent { node: id("t") },
            Expect::AttrEquals {
                node: id("t"),
                key: "k".into(),
                value: every_value(),
            },
            Expect::AttrAbsent {
                node: id("t"),
                key: "k".into(),
            },
            Expect::NodeVersion {
                node: id("t"),
                version: 9,
            },
            Expect::EdgeExists {
                from: id("t"),
                to: id("u"),
                label: "l".into(),
            },
            Expect::EdgeAbsent {
                from: id("t"),
                to: id("u"),
                label: "l".into(),
            },
        ],
    };
    assert_eq!(round_trip(&rewrite), rewrite);
}

#[test]
fn nodes_edges_and_digests_round_trip() {
    // Goal: the read types the wire protocol carries survive bincode unchanged.
    let graph = sample();
    let node: Node = graph.node("task:1").unwrap().clone();
    assert_eq!(round_trip(&node), node);
    let edges: Vec<Edge> = graph.edges().cloned().collect();
    assert_eq!(round_trip(&edges), edges);
    let digest: StateDigest = graph.digest();
    assert_eq!(round_trip(&digest), digest);
}

#[test]
fn invalid_ids_are_refused_from_bincode_too() {
    // Goal: decoding checks node ids in the binary form as well.
    let bytes =
        bincode::serde::encode_to_vec(vec![String::new()], bincode::config::standard()).unwrap();
    let result: Result<(Vec<jitos_warp::NodeId>, usize), _> =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
    assert!(result.is_err());
}

#[test]
fn deep_values_are_refused_from_bincode_too() {
    // Goal: the nesting bound holds for the binary form, so a hostile ledger or frame
    // cannot exhaust the stack.
    let deep = (0..40).fold(Value::Int(0), |inner, _| Value::List(vec![inner]));
    let bytes = bincode::serde::encode_to_vec(&deep, bincode::config::standard()).unwrap();
    let result: Result<(Value, usize), _> =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard());
    let error = result.unwrap_err().to_string();
    assert!(error.contains("deeper than 32"), "{error}");
    let ok = (0..31).fold(Value::Int(0), |inner, _| Value::List(vec![inner]));
    assert_eq!(round_trip(&ok), ok);
}
