//! `TreeError`: why a path, a recorded tree or a wanted tree cannot be used.

/// Why a tree operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// A path is not a clean relative path.
    #[error("{path:?} is not a usable tree path: {reason}")]
    BadPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A recorded node looks like part of a tree but is not well formed.
    #[error("node {node} is not a well-formed tree node: {reason}")]
    BadNode {
        /// The node's id.
        node: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An entry's parent is missing or is not a directory.
    #[error("{path} has no parent directory {parent} in the tree")]
    Orphan {
        /// The entry.
        path: String,
        /// The parent it needs.
        parent: String,
    },
    /// The rewrite would exceed the ops one rewrite may carry.
    #[error(
        "bringing the tree up to date takes {ops} ops, more than the {max} one rewrite may \
         carry; import a smaller directory, or its subdirectories one by one"
    )]
    TooManyOps {
        /// Ops needed.
        ops: usize,
        /// The limit.
        max: usize,
    },
}
