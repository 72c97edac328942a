//! One test per `RewriteError` variant: the error names the right op and detail, and the
//! refused rewrite leaves the graph exactly as it was.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use jitos_warp::{
    Expect, Field, FieldError, Found, Graph, NodeRole, Rewrite, RewriteError, Value,
    ATTRS_PER_NODE_MAX, CHANGES_PER_REWRITE_MAX, EXPECTS_PER_REWRITE_MAX, KIND_BYTES_MAX,
    LABEL_BYTES_MAX, OPS_PER_REWRITE_MAX, STRING_BYTES_MAX, VALUE_BYTES_MAX, VALUE_DEPTH_MAX,
};

/// Applies `rewrite` to the sample graph, checks it is refused without any change, and
/// returns the error.
fn refused(graph: &mut Graph, rewrite: Rewrite) -> RewriteError {
    let before = graph.encode_snapshot();
    let digest = graph.digest();
    let error = graph
        .apply(&rewrite)
        .expect_err("the rewrite should be refused");
    assert_eq!(
        graph.digest(),
        digest,
        "digest changed by a refused rewrite"
    );
    assert_eq!(
        graph.encode_snapshot(),
        before,
        "graph changed by a refused rewrite"
    );
    error
}

fn refused_on_sample(ops: Vec<jitos_warp::Op>) -> RewriteError {
    refused(&mut sample(), rw(ops))
}

#[test]
fn too_many_ops() {
    // Goal: a rewrite over the op limit is refused before anything runs.
    let ops = vec![set("task:1", "k", 1); OPS_PER_REWRITE_MAX + 1];
    assert_eq!(
        refused_on_sample(ops),
        RewriteError::TooManyOps {
            count: OPS_PER_REWRITE_MAX + 1,
            max: OPS_PER_REWRITE_MAX
        }
    );
}

#[test]
fn too_many_expects() {
    // Goal: a rewrite over the expect limit is refused.
    let mut rewrite = rw(vec![]);
    rewrite.expect = vec![Expect::NodeExists { node: id("task:1") }; EXPECTS_PER_REWRITE_MAX + 1];
    assert!(matches!(
        refused(&mut sample(), rewrite),
        RewriteError::TooManyExpects { .. }
    ));
}

#[test]
fn invalid_op_fields() {
    // Goal: empty and over-long kinds, labels and keys, and values beyond limits, are
    // refused with the op's index and the field's name.
    let long_kind = "k".repeat(KIND_BYTES_MAX + 1);
    let cases: Vec<(jitos_warp::Op, FieldError)> = vec![
        (add("n", ""), FieldError::Empty { field: Field::Kind }),
        (
            add("n", &long_kind),
            FieldError::TooLong {
                field: Field::Kind,
                bytes: KIND_BYTES_MAX + 1,
                max: KIND_BYTES_MAX,
            },
        ),
        (
            link("task:1", "", "task:2"),
            FieldError::Empty {
                field: Field::Label,
            },
        ),
        (
            unlink("task:1", &"l".repeat(LABEL_BYTES_MAX + 1), "task:2"),
            FieldError::TooLong {
                field: Field::Label,
                bytes: LABEL_BYTES_MAX + 1,
                max: LABEL_BYTES_MAX,
            },
        ),
        (
            set("task:1", "", 1),
            FieldError::Empty {
                field: Field::AttrKey,
            },
        ),
        (
            unset("task:1", ""),
            FieldError::Empty {
                field: Field::AttrKey,
            },
        ),
        (
            set("task:1", "k", Value::Str("s".repeat(STRING_BYTES_MAX + 1))),
            FieldError::TooLong {
                field: Field::StringValue,
                bytes: STRING_BYTES_MAX + 1,
                max: STRING_BYTES_MAX,
            },
        ),
        (
            set("task:1", "k", Value::Bytes(vec![0; VALUE_BYTES_MAX])),
            FieldError::ValueTooLarge {
                max: VALUE_BYTES_MAX,
            },
        ),
        (
            set("task:1", "k", nested(VALUE_DEPTH_MAX + 1)),
            FieldError::ValueTooDeep {
                max: VALUE_DEPTH_MAX,
            },
        ),
        (
            set(
                "task:1",
                "k",
                Value::Map([("$bytes".to_owned(), Value::Int(1))].into()),
            ),
            FieldError::ReservedMapKey {
                key: "$bytes".to_owned(),
            },
        ),
        (
            add_with(
                "n",
                "K",
                &(0..=ATTRS_PER_NODE_MAX)
                    .map(|i| {
                        (
                            Box::leak(format!("k{i}").into_boxed_str()) as &str,
                            Value::Int(0),
                        )
                    })
                    .collect::<Vec<_>>(),
            ),
            FieldError::TooManyAttrs {
                count: ATTRS_PER_NODE_MAX + 1,
                max: ATTRS_PER_NODE_MAX,
            },
        ),
    ];
    for (op, problem) in cases {
        let error = refused_on_sample(vec![set("task:2", "ok", 1), op]);
        assert_eq!(error, RewriteError::InvalidOp { index: 1, problem });
    }
    // The deepest allowed value passes.
    sample()
        .apply(&rw(vec![set("task:1", "k", nested(VALUE_DEPTH_MAX))]))
        .unwrap();
}

/// A value nested `depth` levels deep (a scalar is depth 1).
fn nested(depth: usize) -> Value {
    (1..depth).fold(Value::Int(0), |inner, _| Value::List(vec![inner]))
}

#[test]
fn invalid_expect_fields() {
    // Goal: expects are statically checked too, with their own index.
    let mut rewrite = rw(vec![]);
    rewrite.expect = vec![
        Expect::NodeExists { node: id("task:1") },
        Expect::AttrAbsent {
            node: id("task:1"),
            key: String::new(),
        },
    ];
    assert_eq!(
        refused(&mut sample(), rewrite),
        RewriteError::InvalidExpect {
            index: 1,
            problem: FieldError::Empty {
                field: Field::AttrKey
            }
        }
    );
}

#[test]
fn precondition_failures_say_what_was_found() {
    // Goal: each kind of expect fails with the state it found, checked before any op.
    let cases: Vec<(Expect, Found)> = vec![
        (Expect::NodeExists { node: id("nope") }, Found::NodeAbsent),
        (
            Expect::NodeAbsent { node: id("task:1") },
            Found::NodePresent,
        ),
        (
            Expect::AttrEquals {
                node: id("task:1"),
                key: "prio".into(),
                value: Value::Int(3),
            },
            Found::Value(Value::Int(2)),
        ),
        (
            Expect::AttrEquals {
                node: id("task:1"),
                key: "nope".into(),
                value: Value::Int(3),
            },
            Found::AttrAbsent,
        ),
        (
            Expect::AttrEquals {
                node: id("nope"),
                key: "k".into(),
                value: Value::Int(3),
            },
            Found::NodeAbsent,
        ),
        (
            Expect::AttrAbsent {
                node: id("task:1"),
                key: "title".into(),
            },
            Found::Value(Value::from("fix")),
        ),
        (
            Expect::AttrAbsent {
                node: id("nope"),
                key: "title".into(),
            },
            Found::NodeAbsent,
        ),
        (
            Expect::NodeVersion {
                node: id("task:1"),
                version: 1,
            },
            Found::Version(3),
        ),
        (
            Expect::EdgeExists {
                from: id("task:2"),
                to: id("task:1"),
                label: "blocks".into(),
            },
            Found::EdgeAbsent,
        ),
        (
            Expect::EdgeAbsent {
                from: id("task:1"),
                to: id("task:2"),
                label: "blocks".into(),
            },
            Found::EdgePresent,
        ),
    ];
    for (expect, found) in cases {
        let mut rewrite = rw(vec![add("fresh", "Task")]);
        rewrite.expect = vec![Expect::NodeExists { node: id("task:2") }, expect.clone()];
        let error = refused(&mut sample(), rewrite);
        assert_eq!(
            error,
            RewriteError::Precondition {
                index: 1,
                expect: Box::new(expect),
                found: Box::new(found),
            }
        );
    }
}

#[test]
fn expects_see_the_state_before_the_ops() {
    // Goal: an expect about a node the same rewrite adds fails, since expects run first.
    let mut rewrite = rw(vec![add("fresh", "Task")]);
    rewrite.expect = vec![Expect::NodeExists { node: id("fresh") }];
    assert!(matches!(
        refused(&mut sample(), rewrite),
        RewriteError::Precondition { index: 0, .. }
    ));
}

#[test]
fn duplicate_node() {
    // Goal: adding a taken id is refused, also when an earlier op of the rewrite took it.
    assert_eq!(
        refused_on_sample(vec![add("task:1", "Task")]),
        RewriteError::DuplicateNode {
            index: 0,
            id: id("task:1")
        }
    );
    assert_eq!(
        refused_on_sample(vec![add("n", "K"), set("n", "a", 1), add("n", "K")]),
        RewriteError::DuplicateNode {
            index: 2,
            id: id("n")
        }
    );
}

#[test]
fn missing_node_names_its_role() {
    // Goal: every op on a missing node says which of its nodes is missing.
    let cases = vec![
        (set("nope", "k", 1), NodeRole::Subject),
        (unset("nope", "k"), NodeRole::Subject),
        (remove("nope", false), NodeRole::Subject),
        (link("nope", "l", "task:1"), NodeRole::From),
        (link("task:1", "l", "nope"), NodeRole::To),
        (unlink("nope", "l", "task:1"), NodeRole::From),
        (unlink("task:1", "l", "nope"), NodeRole::To),
    ];
    for (op, role) in cases {
        assert_eq!(
            refused_on_sample(vec![set("task:2", "ok", 1), op]),
            RewriteError::MissingNode {
                index: 1,
                id: id("nope"),
                role
            }
        );
    }
}

#[test]
fn missing_attr() {
    // Goal: removing an attribute the node lacks is refused.
    assert_eq!(
        refused_on_sample(vec![unset("task:1", "nope")]),
        RewriteError::MissingAttr {
            index: 0,
            node: id("task:1"),
            key: "nope".into()
        }
    );
}

#[test]
fn too_many_attrs() {
    // Goal: set_attr of a new key on a full node is refused; replacing a key is not.
    let full: Vec<jitos_warp::Op> = (0..ATTRS_PER_NODE_MAX)
        .map(|i| set("task:2", &format!("k{i}"), 0))
        .collect();
    let mut graph = sample();
    graph.apply(&rw(full)).unwrap();
    assert_eq!(
        refused(&mut graph, rw(vec![set("task:2", "one-more", 1)])),
        RewriteError::TooManyAttrs {
            index: 0,
            node: id("task:2"),
            key: "one-more".into(),
            max: ATTRS_PER_NODE_MAX
        }
    );
    graph.apply(&rw(vec![set("task:2", "k0", 1)])).unwrap();
}

#[test]
fn duplicate_and_missing_edges() {
    // Goal: adding an existing edge and removing an absent one are refused.
    assert_eq!(
        refused_on_sample(vec![link("task:1", "blocks", "task:2")]),
        RewriteError::DuplicateEdge {
            index: 0,
            edge: edge("task:1", "blocks", "task:2")
        }
    );
    assert_eq!(
        refused_on_sample(vec![unlink("task:2", "blocks", "task:1")]),
        RewriteError::MissingEdge {
            index: 0,
            edge: edge("task:2", "blocks", "task:1")
        }
    );
}

#[test]
fn node_has_edges() {
    // Goal: removing a node with edges needs cascade, and the error counts its edges.
    assert_eq!(
        refused_on_sample(vec![remove("task:1", false)]),
        RewriteError::NodeHasEdges {
            index: 0,
            id: id("task:1"),
            edges: 2
        }
    );
}

#[test]
fn too_many_changes() {
    // Goal: a cascade that would push the change count past the limit is refused, so the
    // inverse of every accepted rewrite stays within the op limit.
    let mut graph = graph(vec![add("hub", "Hub")]);
    let spokes: Vec<String> = (0..CHANGES_PER_REWRITE_MAX / 2)
        .map(|i| format!("s{i}"))
        .collect();
    graph
        .apply(&rw(spokes.iter().map(|s| add(s, "Spoke")).collect()))
        .unwrap();
    graph
        .apply(&rw(spokes.iter().map(|s| link("hub", "has", s)).collect()))
        .unwrap();
    let mut big: Vec<jitos_warp::Op> = (0..CHANGES_PER_REWRITE_MAX / 2)
        .map(|i| set(&spokes[i], "k", 1))
        .collect();
    big.push(remove("hub", true));
    let index = big.len() - 1;
    assert_eq!(
        refused(&mut graph, rw(big)),
        RewriteError::TooManyChanges {
            index,
            max: CHANGES_PER_REWRITE_MAX
        }
    );
}

#[test]
fn messages_read_well() {
    // Goal: error messages name the op, the node and what to do.
    let error = refused_on_sample(vec![remove("task:1", false)]);
    assert_eq!(
        error.to_string(),
        "op 0: node task:1 still has 2 edge(s); remove them first, or set \"cascade\": true"
    );
    let error = refused_on_sample(vec![link("task:1", "l", "nope")]);
    assert_eq!(
        error.to_string(),
        "op 0: edge target (to) nope does not exist"
    );
    let mut rewrite = rw(vec![]);
    rewrite.expect = vec![Expect::AttrEquals {
        node: id("task:1"),
        key: "title".into(),
        value: Value::from("open"),
    }];
    assert_eq!(
        refused(&mut sample(), rewrite).to_string(),
        "expect 0 does not hold: expected task:1.title = \"open\", found the value \"fix\""
    );
}
