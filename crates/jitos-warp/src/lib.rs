//! The WARP state graph: typed nodes with attributes, labelled edges, the rewrites that
//! change them, their canonical encoding and the state digest.
//!
//! Architecture invariant: this crate knows nothing of storage, time, the ledger or I/O.
//! It is pure data and functions; the same rewrites applied to the same graph give the
//! same graph, byte for byte, on every machine.
//!
//! - `Graph::apply` validates a `Rewrite`, checks its expects, then runs its ops, all or
//!   nothing, keeping the `StateDigest` current in O(1) per change.
//! - `Applied` is the undo log of one apply: its `inverse` rewrite, the nodes it
//!   `touched`, and `Graph::undo` to revert it exactly.
//! - `Graph::from_parts` builds a graph from given nodes and edges, versions kept.
//! - `Graph::encode_snapshot` / `Graph::decode_snapshot` are the canonical, strict
//!   snapshot encoding; `encode_value` is the canonical encoding of a value.
//! - The JSON form of a rewrite (`Rewrite::from_json`) is specified in
//!   `docs/REWRITE_JSON.md`.

mod applied;
mod apply;
mod attrs_serde;
mod blob;
mod digest;
mod encode;
mod error;
mod graph;
mod graph_build;
mod hex32;
mod id;
mod json;
mod lanes;
mod limits;
mod model;
mod precondition;
mod rewrite;
mod snapshot;
mod snapshot_decode;
mod snapshot_error;
mod snapshot_reader;
mod validate;
mod value;
mod value_serde;

pub use applied::Applied;
pub use blob::BlobRef;
pub use digest::StateDigest;
pub use encode::encode_value;
pub use error::{Field, FieldError, Found, NodeRole, RewriteError};
pub use graph::Graph;
pub use graph_build::GraphBuildError;
pub use hex32::Hex32Error;
pub use id::{IdError, NodeId};
pub use json::RewriteJsonError;
pub use limits::*;
pub use model::{Edge, Node};
pub use rewrite::{Expect, Op, Rewrite};
pub use snapshot_error::SnapshotDecodeError;
pub use value::Value;
