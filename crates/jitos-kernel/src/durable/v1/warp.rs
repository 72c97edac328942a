//! Version 1 of the graph's durable types: a rewrite, its ops and expects, values and
//! edges, laid out exactly as bincode wrote `jitos_warp`'s types when they were recorded
//! directly (field and variant order are the layout: never reorder them).

use jitos_ledger::codec::ByteString;
use jitos_warp::{BlobRef, NodeId, VALUE_DEPTH_MAX};
use serde::{Deserialize, Serialize};

use crate::durable::{freeze_map, thaw_map, thaw_map_with, Frozen, Map, PayloadError};

/// A node id, as its text.
pub(crate) type Id = String;

pub(crate) fn freeze_id(id: &NodeId) -> Id {
    id.as_str().to_owned()
}

pub(crate) fn thaw_id(id: Id) -> Result<NodeId, PayloadError> {
    NodeId::new(&id).map_err(|e| PayloadError::Invalid {
        what: "node id",
        reason: format!("{id:?}: {e}"),
    })
}

/// `jitos_warp::Rewrite`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Rewrite {
    pub(crate) ops: Vec<Op>,
    pub(crate) expect: Vec<Expect>,
}

/// `jitos_warp::Op`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Op {
    AddNode {
        id: Id,
        kind: String,
        attrs: Map<String, Value>,
    },
    RemoveNode {
        id: Id,
        cascade: bool,
    },
    SetAttr {
        node: Id,
        key: String,
        value: Value,
    },
    RemoveAttr {
        node: Id,
        key: String,
    },
    AddEdge {
        from: Id,
        to: Id,
        label: String,
    },
    RemoveEdge {
        from: Id,
        to: Id,
        label: String,
    },
}

/// `jitos_warp::Expect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Expect {
    NodeExists { node: Id },
    NodeAbsent { node: Id },
    AttrEquals { node: Id, key: String, value: Value },
    AttrAbsent { node: Id, key: String },
    NodeVersion { node: Id, version: u64 },
    EdgeExists { from: Id, to: Id, label: String },
    EdgeAbsent { from: Id, to: Id, label: String },
}

/// `jitos_warp::Value`, in the plain (not human-readable) form its serde writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    Bool(bool),
    Bytes(ByteString),
    Blob([u8; 32]),
    List(Vec<Value>),
    Map(Map<String, Value>),
}

/// `jitos_warp::Edge`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Edge {
    pub(crate) from: Id,
    pub(crate) label: String,
    pub(crate) to: Id,
}

impl Frozen for Rewrite {
    type Live = jitos_warp::Rewrite;

    fn freeze(live: &jitos_warp::Rewrite) -> Rewrite {
        Rewrite {
            ops: Frozen::freeze(&live.ops),
            expect: Frozen::freeze(&live.expect),
        }
    }

    fn thaw(self) -> Result<jitos_warp::Rewrite, PayloadError> {
        Ok(jitos_warp::Rewrite {
            ops: self.ops.thaw()?,
            expect: self.expect.thaw()?,
        })
    }
}

impl Frozen for Op {
    type Live = jitos_warp::Op;

    fn freeze(live: &jitos_warp::Op) -> Op {
        use jitos_warp::Op as L;
        match live {
            L::AddNode { id, kind, attrs } => Op::AddNode {
                id: freeze_id(id),
                kind: kind.clone(),
                attrs: freeze_map(attrs),
            },
            L::RemoveNode { id, cascade } => Op::RemoveNode {
                id: freeze_id(id),
                cascade: *cascade,
            },
            L::SetAttr { node, key, value } => Op::SetAttr {
                node: freeze_id(node),
                key: key.clone(),
                value: Value::freeze(value),
            },
            L::RemoveAttr { node, key } => Op::RemoveAttr {
                node: freeze_id(node),
                key: key.clone(),
            },
            L::AddEdge { from, to, label } => Op::AddEdge {
                from: freeze_id(from),
                to: freeze_id(to),
                label: label.clone(),
            },
            L::RemoveEdge { from, to, label } => Op::RemoveEdge {
                from: freeze_id(from),
                to: freeze_id(to),
                label: label.clone(),
            },
        }
    }

    fn thaw(self) -> Result<jitos_warp::Op, PayloadError> {
        use jitos_warp::Op as L;
        Ok(match self {
            Op::AddNode { id, kind, attrs } => L::AddNode {
                id: thaw_id(id)?,
                kind,
                attrs: thaw_map(attrs, "attribute map")?,
            },
            Op::RemoveNode { id, cascade } => L::RemoveNode {
                id: thaw_id(id)?,
                cascade,
            },
            Op::SetAttr { node, key, value } => L::SetAttr {
                node: thaw_id(node)?,
                key,
                value: value.thaw()?,
            },
            Op::RemoveAttr { node, key } => L::RemoveAttr {
                node: thaw_id(node)?,
                key,
            },
            Op::AddEdge { from, to, label } => L::AddEdge {
                from: thaw_id(from)?,
                to: thaw_id(to)?,
                label,
            },
            Op::RemoveEdge { from, to, label } => L::RemoveEdge {
                from: thaw_id(from)?,
                to: thaw_id(to)?,
                label,
            },
        })
    }
}

impl Frozen for Expect {
    type Live = jitos_warp::Expect;

    fn freeze(live: &jitos_warp::Expect) -> Expect {
        use jitos_warp::Expect as L;
        match live {
            L::NodeExists { node } => Expect::NodeExists {
                node: freeze_id(node),
            },
            L::NodeAbsent { node } => Expect::NodeAbsent {
                node: freeze_id(node),
            },
            L::AttrEquals { node, key, value } => Expect::AttrEquals {
                node: freeze_id(node),
                key: key.clone(),
                value: Value::freeze(value),
            },
            L::AttrAbsent { node, key } => Expect::AttrAbsent {
                node: freeze_id(node),
                key: key.clone(),
            },
            L::NodeVersion { node, version } => Expect::NodeVersion {
                node: freeze_id(node),
                version: *version,
            },
            L::EdgeExists { from, to, label } => Expect::EdgeExists {
                from: freeze_id(from),
                to: freeze_id(to),
                label: label.clone(),
            },
            L::EdgeAbsent { from, to, label } => Expect::EdgeAbsent {
                from: freeze_id(from),
                to: freeze_id(to),
                label: label.clone(),
            },
        }
    }

    fn thaw(self) -> Result<jitos_warp::Expect, PayloadError> {
        use jitos_warp::Expect as L;
        Ok(match self {
            Expect::NodeExists { node } => L::NodeExists {
                node: thaw_id(node)?,
            },
            Expect::NodeAbsent { node } => L::NodeAbsent {
                node: thaw_id(node)?,
            },
            Expect::AttrEquals { node, key, value } => L::AttrEquals {
                node: thaw_id(node)?,
                key,
                value: value.thaw()?,
            },
            Expect::AttrAbsent { node, key } => L::AttrAbsent {
                node: thaw_id(node)?,
                key,
            },
            Expect::NodeVersion { node, version } => L::NodeVersion {
                node: thaw_id(node)?,
                version,
            },
            Expect::EdgeExists { from, to, label } => L::EdgeExists {
                from: thaw_id(from)?,
                to: thaw_id(to)?,
                label,
            },
            Expect::EdgeAbsent { from, to, label } => L::EdgeAbsent {
                from: thaw_id(from)?,
                to: thaw_id(to)?,
                label,
            },
        })
    }
}

impl Frozen for Value {
    type Live = jitos_warp::Value;

    fn freeze(live: &jitos_warp::Value) -> Value {
        use jitos_warp::Value as L;
        match live {
            L::Str(v) => Value::Str(v.clone()),
            L::Int(v) => Value::Int(*v),
            L::Bool(v) => Value::Bool(*v),
            L::Bytes(v) => Value::Bytes(ByteString(v.clone())),
            L::Blob(v) => Value::Blob(v.0),
            L::List(v) => Value::List(Frozen::freeze(v)),
            L::Map(v) => Value::Map(freeze_map(v)),
        }
    }

    fn thaw(self) -> Result<jitos_warp::Value, PayloadError> {
        self.thaw_at(1)
    }
}

impl Value {
    /// The value at nesting `depth` (a scalar at the top is at depth 1), refused past
    /// `VALUE_DEPTH_MAX` as the graph refuses it.
    fn thaw_at(self, depth: usize) -> Result<jitos_warp::Value, PayloadError> {
        use jitos_warp::Value as L;
        if depth > VALUE_DEPTH_MAX {
            return Err(PayloadError::Invalid {
                what: "value",
                reason: format!("it nests deeper than {VALUE_DEPTH_MAX} levels"),
            });
        }
        Ok(match self {
            Value::Str(v) => L::Str(v),
            Value::Int(v) => L::Int(v),
            Value::Bool(v) => L::Bool(v),
            Value::Bytes(v) => L::Bytes(v.0),
            Value::Blob(v) => L::Blob(BlobRef(v)),
            Value::List(items) => L::List(
                items
                    .into_iter()
                    .map(|item| item.thaw_at(depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Map(entries) => L::Map(thaw_map_with(entries, "value map", |item| {
                item.thaw_at(depth + 1)
            })?),
        })
    }
}

impl Frozen for Edge {
    type Live = jitos_warp::Edge;

    fn freeze(live: &jitos_warp::Edge) -> Edge {
        Edge {
            from: freeze_id(&live.from),
            label: live.label.clone(),
            to: freeze_id(&live.to),
        }
    }

    fn thaw(self) -> Result<jitos_warp::Edge, PayloadError> {
        Ok(jitos_warp::Edge {
            from: thaw_id(self.from)?,
            label: self.label,
            to: thaw_id(self.to)?,
        })
    }
}
