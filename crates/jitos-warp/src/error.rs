//! `RewriteError`: why a rewrite was refused, precisely enough to fix it.

use std::fmt;

use crate::{Edge, Expect, NodeId, Value};

/// Why `Graph::apply` (or `Rewrite::validate`) refused a rewrite. The graph is unchanged.
/// `index` is the position of the offending op or expect in the rewrite, from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// More ops than `OPS_PER_REWRITE_MAX`.
    #[error(
        "the rewrite has {count} ops; at most {max} are allowed: split it into several rewrites"
    )]
    TooManyOps {
        /// Ops in the rewrite.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// More expects than `EXPECTS_PER_REWRITE_MAX`.
    #[error("the rewrite has {count} expects; at most {max} are allowed")]
    TooManyExpects {
        /// Expects in the rewrite.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An op breaks a static rule (empty or over-long field, value beyond limits).
    #[error("op {index}: {problem}")]
    InvalidOp {
        /// The op's position.
        index: usize,
        /// What is wrong with it.
        problem: FieldError,
    },
    /// An expect breaks a static rule.
    #[error("expect {index}: {problem}")]
    InvalidExpect {
        /// The expect's position.
        index: usize,
        /// What is wrong with it.
        problem: FieldError,
    },
    /// A precondition does not hold: the state changed since the author read it.
    #[error("expect {index} does not hold: expected {expect}, found {found}")]
    Precondition {
        /// The expect's position.
        index: usize,
        /// The precondition.
        expect: Box<Expect>,
        /// What the state holds instead.
        found: Box<Found>,
    },
    /// `add_node` of an id that is taken.
    #[error("op {index}: node {id} already exists")]
    DuplicateNode {
        /// The op's position.
        index: usize,
        /// The id.
        id: NodeId,
    },
    /// An op names a node that does not exist.
    #[error("op {index}: {role} {id} does not exist")]
    MissingNode {
        /// The op's position.
        index: usize,
        /// The missing node.
        id: NodeId,
        /// Which of the op's nodes it is.
        role: NodeRole,
    },
    /// `remove_attr` of an attribute the node does not have.
    #[error("op {index}: node {node} has no attribute {key:?}")]
    MissingAttr {
        /// The op's position.
        index: usize,
        /// The node.
        node: NodeId,
        /// The key.
        key: String,
    },
    /// `set_attr` of a new key on a node that holds `ATTRS_PER_NODE_MAX` attributes.
    #[error("op {index}: node {node} already has {max} attributes, the most allowed; remove one before adding {key:?}")]
    TooManyAttrs {
        /// The op's position.
        index: usize,
        /// The node.
        node: NodeId,
        /// The key that would be added.
        key: String,
        /// The limit.
        max: usize,
    },
    /// `add_edge` of an edge that exists.
    #[error("op {index}: edge {edge} already exists")]
    DuplicateEdge {
        /// The op's position.
        index: usize,
        /// The edge.
        edge: Edge,
    },
    /// `remove_edge` of an edge that does not exist.
    #[error("op {index}: edge {edge} does not exist")]
    MissingEdge {
        /// The op's position.
        index: usize,
        /// The edge.
        edge: Edge,
    },
    /// `remove_node` without `cascade` while edges touch the node.
    #[error("op {index}: node {id} still has {edges} edge(s); remove them first, or set \"cascade\": true")]
    NodeHasEdges {
        /// The op's position.
        index: usize,
        /// The node.
        id: NodeId,
        /// How many edges touch it.
        edges: usize,
    },
    /// The rewrite would make more than `CHANGES_PER_REWRITE_MAX` changes, counting each
    /// edge a cascading removal takes along.
    #[error("op {index}: the rewrite would make more than {max} changes (a cascading removal counts each of its edges); split it")]
    TooManyChanges {
        /// The op's position.
        index: usize,
        /// The limit.
        max: usize,
    },
}

/// Which node of an op is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeRole {
    /// The node the op acts on (`set_attr`, `remove_attr`, `remove_node`).
    Subject,
    /// The `from` end of an edge.
    From,
    /// The `to` end of an edge.
    To,
}

impl fmt::Display for NodeRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeRole::Subject => "node",
            NodeRole::From => "edge source (from)",
            NodeRole::To => "edge target (to)",
        })
    }
}

/// What the state held when a precondition failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// The node does not exist.
    NodeAbsent,
    /// The node exists.
    NodePresent,
    /// The node exists but lacks the attribute.
    AttrAbsent,
    /// The attribute holds this value.
    Value(Value),
    /// The node is at this version.
    Version(u64),
    /// The edge does not exist.
    EdgeAbsent,
    /// The edge exists.
    EdgePresent,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::NodeAbsent => f.write_str("the node is absent"),
            Found::NodePresent => f.write_str("the node exists"),
            Found::AttrAbsent => f.write_str("the attribute is absent"),
            Found::Value(v) => write!(f, "the value {v}"),
            Found::Version(v) => write!(f, "version {v}"),
            Found::EdgeAbsent => f.write_str("the edge is absent"),
            Found::EdgePresent => f.write_str("the edge exists"),
        }
    }
}

/// A field of an op, expect or value that breaks a static rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// A field that must not be empty is.
    #[error("{field} is empty")]
    Empty {
        /// Which field.
        field: Field,
    },
    /// A field is longer than its limit.
    #[error("{field} is {bytes} bytes long; at most {max} are allowed")]
    TooLong {
        /// Which field.
        field: Field,
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A node would get more attributes than `ATTRS_PER_NODE_MAX`.
    #[error("{count} attributes; at most {max} are allowed on one node")]
    TooManyAttrs {
        /// Attributes given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A value nests deeper than `VALUE_DEPTH_MAX`.
    #[error("value nests deeper than {max} levels")]
    ValueTooDeep {
        /// The limit.
        max: usize,
    },
    /// A value's encoding exceeds `VALUE_BYTES_MAX`.
    #[error("value encodes to more than {max} bytes")]
    ValueTooLarge {
        /// The limit.
        max: usize,
    },
    /// A map key inside a value starts with `$`, reserved for the tagged JSON forms.
    #[error("map key {key:?} starts with '$', which is reserved for the tagged forms \"$bytes\" and \"$blob\"")]
    ReservedMapKey {
        /// The key.
        key: String,
    },
}

/// Names a field in `FieldError`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A node kind.
    Kind,
    /// An edge label.
    Label,
    /// An attribute key.
    AttrKey,
    /// A key of a map inside a value.
    MapKey,
    /// A string inside a value.
    StringValue,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Kind => "kind",
            Field::Label => "label",
            Field::AttrKey => "attribute key",
            Field::MapKey => "map key",
            Field::StringValue => "string value",
        })
    }
}
