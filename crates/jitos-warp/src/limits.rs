//! Named limits on everything a rewrite, a value or a snapshot may carry.
//!
//! Each limit is checked by `Rewrite::validate` before a rewrite touches the graph, and
//! again by `Graph::decode_snapshot`, so a graph never holds anything beyond them.

/// Most ops in one rewrite.
pub const OPS_PER_REWRITE_MAX: usize = 65_536;

/// Most preconditions in one rewrite.
pub const EXPECTS_PER_REWRITE_MAX: usize = 4_096;

/// Most changes one apply may make. Every op makes at most one change, except a cascading
/// `remove_node`, which also makes one per edge it takes along. Holding the total to the op
/// limit keeps `Applied::inverse` a rewrite that itself validates.
pub const CHANGES_PER_REWRITE_MAX: usize = OPS_PER_REWRITE_MAX;

/// Deepest nesting of a value: a scalar has depth 1, a list of scalars depth 2.
pub const VALUE_DEPTH_MAX: usize = 32;

/// Longest string inside a value, in bytes.
pub const STRING_BYTES_MAX: usize = 256 * 1024;

/// Largest value, measured in its canonical encoding (`encode_value`).
pub const VALUE_BYTES_MAX: usize = 1024 * 1024;

/// Longest node id, in bytes.
pub const NODE_ID_BYTES_MAX: usize = 256;

/// Longest node kind, in bytes.
pub const KIND_BYTES_MAX: usize = 128;

/// Longest edge label, in bytes.
pub const LABEL_BYTES_MAX: usize = 128;

/// Longest attribute key, and longest key of a map inside a value, in bytes.
pub const ATTR_KEY_BYTES_MAX: usize = 256;

/// Most attributes one node may hold.
pub const ATTRS_PER_NODE_MAX: usize = 4_096;

/// Largest rewrite text `Rewrite::from_json` accepts, in bytes.
pub const REWRITE_JSON_BYTES_MAX: usize = 64 * 1024 * 1024;
