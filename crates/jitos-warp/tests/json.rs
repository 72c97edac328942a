//! The JSON form of rewrites and values: the documented example parses, everything
//! round-trips, and bad input is refused with a message that says where and why.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{BlobRef, Expect, Op, Rewrite, RewriteJsonError, Value};

const EXAMPLE: &str = r#"{
  "ops": [
    {"add_node": {"id": "task:1", "kind": "Task", "attrs": {"title": "fix"}}},
    {"add_node": {"id": "file:src/lib.rs", "kind": "File"}},
    {"set_attr": {"node": "task:1", "key": "state", "value": "open"}},
    {"add_edge": {"from": "task:1", "to": "file:src/lib.rs", "label": "touches"}},
    {"remove_attr": {"node": "task:1", "key": "state"}},
    {"remove_edge": {"from": "task:1", "to": "file:src/lib.rs", "label": "touches"}},
    {"remove_node": {"id": "task:1", "cascade": true}}
  ],
  "expect": [
    {"node_absent": {"node": "task:1"}},
    {"node_exists": {"node": "t"}},
    {"attr_equals": {"node": "t", "key": "k", "value": 3}},
    {"attr_absent": {"node": "t", "key": "k2"}},
    {"node_version": {"node": "t", "version": 7}},
    {"edge_exists": {"from": "t", "to": "u", "label": "l"}},
    {"edge_absent": {"from": "t", "to": "u", "label": "m"}}
  ]
}"#;

fn parse_error(text: &str) -> (usize, usize, String) {
    match Rewrite::from_json(text) {
        Err(RewriteJsonError::Invalid {
            line,
            column,
            message,
        }) => (line, column, message),
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn the_documented_example_parses() {
    // Goal: every op and expect of the documented form parses to the expected value.
    let rewrite = Rewrite::from_json(EXAMPLE).unwrap();
    assert_eq!(rewrite.ops.len(), 7);
    assert_eq!(
        rewrite.ops[0],
        add_with("task:1", "Task", &[("title", Value::from("fix"))])
    );
    assert_eq!(rewrite.ops[1], add("file:src/lib.rs", "File"));
    assert_eq!(rewrite.ops[6], remove("task:1", true));
    assert_eq!(
        rewrite.expect[2],
        Expect::AttrEquals {
            node: id("t"),
            key: "k".into(),
            value: Value::Int(3)
        }
    );
    assert_eq!(rewrite.expect.len(), 7);
    rewrite.validate().unwrap();
}

#[test]
fn defaults_apply_when_fields_are_left_out() {
    // Goal: expect, attrs and cascade may be omitted.
    let rewrite = Rewrite::from_json(
        r#"{"ops": [{"remove_node": {"id": "a"}}, {"add_node": {"id": "b", "kind": "K"}}]}"#,
    )
    .unwrap();
    assert_eq!(rewrite.ops, vec![remove("a", false), add("b", "K")]);
    assert!(rewrite.expect.is_empty());
}

#[test]
fn values_have_a_natural_form() {
    // Goal: each kind of value reads from and writes to its natural JSON form.
    let json = r#"{"s": "x", "i": -5, "b": true, "l": [1, "two"], "m": {"k": {"n": 1}},
                  "bytes": {"$bytes": "00ff"}, "blob": {"$blob": "ABababababababababababababababababababababababababababababababab"}}"#;
    let attrs: std::collections::BTreeMap<String, Value> = serde_json::from_str(json).unwrap();
    assert_eq!(attrs["s"], Value::from("x"));
    assert_eq!(attrs["i"], Value::Int(-5));
    assert_eq!(attrs["b"], Value::Bool(true));
    assert_eq!(
        attrs["l"],
        Value::List(vec![Value::Int(1), Value::from("two")])
    );
    assert_eq!(attrs["bytes"], Value::Bytes(vec![0, 255]));
    assert_eq!(attrs["blob"], Value::Blob(BlobRef([0xab; 32])));
    assert_eq!(
        serde_json::to_string(&attrs["blob"]).unwrap(),
        format!(r#"{{"$blob":"{}"}}"#, "ab".repeat(32))
    );
    assert_eq!(
        serde_json::to_string(&attrs["bytes"]).unwrap(),
        r#"{"$bytes":"00ff"}"#
    );
    assert_eq!(
        serde_json::to_string(&attrs["m"]).unwrap(),
        r#"{"k":{"n":1}}"#
    );
    assert_eq!(Value::Int(i64::MIN).to_string(), i64::MIN.to_string());
}

#[test]
fn rewrites_round_trip_through_pretty_json() {
    // Goal: to_json_pretty output parses back to an equal rewrite, values of every kind
    // included.
    let mut rewrite = Rewrite::from_json(EXAMPLE).unwrap();
    rewrite.ops.push(set(
        "t",
        "all",
        Value::Map(
            [
                ("bytes".to_owned(), Value::Bytes(vec![1, 2, 3])),
                ("blob".to_owned(), Value::Blob(BlobRef([7; 32]))),
                (
                    "list".to_owned(),
                    Value::List(vec![Value::Bool(false), Value::Int(i64::MAX)]),
                ),
                ("empty".to_owned(), Value::Map(Default::default())),
            ]
            .into(),
        ),
    ));
    let text = rewrite.to_json_pretty();
    assert_eq!(Rewrite::from_json(&text).unwrap(), rewrite);
}

#[test]
fn floats_and_null_are_refused_with_a_reason() {
    // Goal: the two non-deterministic or meaningless JSON values are refused, saying why,
    // with the position.
    let (line, column, message) = parse_error(
        "{\"ops\": [\n{\"set_attr\": {\"node\": \"t\", \"key\": \"k\", \"value\": 1.5}}]}",
    );
    assert_eq!(line, 2);
    assert!(column > 40, "column {column}");
    assert!(message.contains("floats are not allowed"), "{message}");
    let (_, _, message) =
        parse_error(r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": null}}]}"#);
    assert!(message.contains("null is not allowed"), "{message}");
    let (_, _, message) =
        parse_error(r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": [1, 2.0]}}]}"#);
    assert!(message.contains("floats"), "{message}");
}

#[test]
fn unknown_ops_and_fields_are_refused() {
    // Goal: misspelled ops and extra fields anywhere are errors, not silently ignored.
    let (_, _, message) = parse_error(r#"{"ops": [{"ad_node": {"id": "t", "kind": "K"}}]}"#);
    assert!(message.contains("unknown variant `ad_node`"), "{message}");
    let (_, _, message) =
        parse_error(r#"{"ops": [{"add_node": {"id": "t", "kind": "K", "colour": "red"}}]}"#);
    assert!(message.contains("unknown field `colour`"), "{message}");
    let (_, _, message) = parse_error(r#"{"ops": [], "expects": []}"#);
    assert!(message.contains("unknown field `expects`"), "{message}");
    let (_, _, message) =
        parse_error(r#"{"ops": [], "expect": [{"node_exists": {"node": "t", "x": 1}}]}"#);
    assert!(message.contains("unknown field `x`"), "{message}");
    let (_, _, message) = parse_error(r#"{"ops": [{"remove_node": {}}]}"#);
    assert!(message.contains("missing field `id`"), "{message}");
}

#[test]
fn bad_ids_keys_and_tags_are_refused() {
    // Goal: invalid node ids, duplicate keys, reserved map keys and malformed tagged
    // values are refused with a message naming the problem.
    let cases = [
        (
            r#"{"ops": [{"remove_node": {"id": ""}}]}"#,
            "node id is empty",
        ),
        (r#"{"ops": [{"remove_node": {"id": " x"}}]}"#, "whitespace"),
        (
            r#"{"ops": [{"add_node": {"id": "t", "kind": "K", "attrs": {"a": 1, "a": 2}}}]}"#,
            "duplicate attribute key \"a\"",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"a": 1, "a": 2}}}]}"#,
            "duplicate map key \"a\"",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"$x": 1}}}]}"#,
            "reserved",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"a": 1, "$bytes": "00"}}}]}"#,
            "reserved",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"$bytes": "0g"}}}]}"#,
            "invalid $bytes",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"$bytes": "00", "x": 1}}}]}"#,
            "must be the only key",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": {"$blob": "00"}}}]}"#,
            "expected 64 hex digits",
        ),
        (
            r#"{"ops": [{"set_attr": {"node": "t", "key": "k", "value": 9223372036854775808}}]}"#,
            "out of range",
        ),
    ];
    for (text, expected) in cases {
        let (_, _, message) = parse_error(text);
        assert!(message.contains(expected), "{text}: {message}");
    }
}

#[test]
fn deep_values_are_refused_while_parsing() {
    // Goal: nesting beyond the depth limit is refused by the parser itself, so hostile
    // input cannot exhaust the stack.
    let deep = format!(
        r#"{{"ops": [{{"set_attr": {{"node": "t", "key": "k", "value": {}1{}}}}}]}}"#,
        "[".repeat(40),
        "]".repeat(40)
    );
    let (_, _, message) = parse_error(&deep);
    assert!(message.contains("deeper than 32"), "{message}");
    let ok = format!(
        r#"{{"ops": [{{"set_attr": {{"node": "t", "key": "k", "value": {}1{}}}}}]}}"#,
        "[".repeat(31),
        "]".repeat(31)
    );
    Rewrite::from_json(&ok).unwrap().validate().unwrap();
}

#[test]
fn syntax_errors_carry_their_position() {
    // Goal: a JSON syntax error reports line and column, in the message too.
    let error = Rewrite::from_json("{\"ops\": [\n  {\"add_node\": }\n]}").unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with("invalid rewrite JSON at line 2, column "),
        "{text}"
    );
    assert!(matches!(error, RewriteJsonError::Invalid { line: 2, .. }));
}

#[test]
fn nodes_and_edges_serialize_naturally() {
    // Goal: the CLI's graph output (serde_json of Node and Edge) is the natural form.
    let graph = sample();
    let node = graph.node("task:1").unwrap();
    assert_eq!(
        serde_json::to_string(node).unwrap(),
        r#"{"id":"task:1","kind":"Task","attrs":{"prio":2,"title":"fix"},"version":3}"#
    );
    assert_eq!(
        serde_json::to_string(&edge("a", "l", "b")).unwrap(),
        r#"{"from":"a","label":"l","to":"b"}"#
    );
    let back: jitos_warp::Node =
        serde_json::from_str(&serde_json::to_string(node).unwrap()).unwrap();
    assert_eq!(&back, node);
    let op: Op = serde_json::from_str(r#"{"remove_attr": {"node": "a", "key": "k"}}"#).unwrap();
    assert_eq!(op, unset("a", "k"));
}
