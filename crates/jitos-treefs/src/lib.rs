//! File trees on disk: [`walk`] reads a directory into a `jitos_tree::Tree`, and
//! [`write_tree`] lays a `Tree` out in an empty directory, with file contents from a
//! caller-supplied source. The CLI, the daemon and workers share this one definition of
//! what a directory means as a tree, so a tree written here walks back to itself.
//! [`materialize`] swaps a tree into a host directory atomically, staged beside it, and
//! [`matches()`] says whether a directory already holds a tree.
//!
//! Architecture Invariant: this crate stores no blobs and talks to no daemon. Contents
//! come in through [`write_tree`]'s fetch callback and go out through
//! [`Walked::read_contents`]; blobs are named by [`blob_ref`], exactly as the ledger
//! names them.

mod blob;
mod error;
mod link;
mod materialize;
mod walk;
mod write;

pub use blob::blob_ref;
pub use error::{FetchError, MaterializeError, WalkError, WriteError};
pub use materialize::{matches, materialize, unmaterialize, Materialized};
pub use walk::{read_tree, walk, Walked, WalkedFile, FILE_BYTES_MAX};
pub use write::{write_tree, BATCH_BYTES_MAX, BATCH_FILES_MAX};
