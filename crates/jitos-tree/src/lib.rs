//! File trees in the WARP: how a directory of files is recorded as `File`, `Symlink` and
//! `Dir` nodes joined by `contains` edges, the rewrite that brings a recorded tree to a
//! wanted one, and the file-level diff of two trees.
//!
//! Architecture invariant: this crate reads no files and stores no blobs. Callers walk
//! directories and store contents; here a tree is only paths, modes and blob references,
//! so the mapping is a pure function and replays exactly.

mod diff;
mod error;
mod layout;
mod path;
mod scope;
mod sync;
mod tree;

pub use diff::{diff_trees, TreeChange};
pub use error::TreeError;
pub use layout::{
    node_id_of, tree_path_of_id, ATTR_BLOB, ATTR_SIZE, CONTAINS_LABEL, DIR_KIND, FILE_KIND,
    ROOT_ID, SYMLINK_KIND,
};
pub use path::TreePath;
pub use scope::within_prefixes;
pub use sync::sync_rewrite;
pub use tree::{Entry, Tree};
