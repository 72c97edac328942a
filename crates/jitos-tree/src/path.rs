//! `TreePath`: a clean, relative, `/`-separated path inside a tree.

use std::fmt;

use jitos_warp::NODE_ID_BYTES_MAX;
use serde::{Deserialize, Serialize};

use crate::error::TreeError;
use crate::layout::ID_PREFIX_BYTES_MAX;

/// A relative path with `/` separators, no empty, `.` or `..` components, and short
/// enough that its node id fits. The root is the empty path. Orders by bytes, so a
/// directory sorts before everything inside it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TreePath(String);

/// Longest path, so that every node id (`file:` + path) stays within the id limit.
pub const PATH_BYTES_MAX: usize = NODE_ID_BYTES_MAX - ID_PREFIX_BYTES_MAX;

impl TreePath {
    /// The root directory.
    pub fn root() -> TreePath {
        TreePath(String::new())
    }

    /// Parses and checks a path.
    pub fn new(path: &str) -> Result<TreePath, TreeError> {
        let bad = |reason| TreeError::BadPath {
            path: path.to_owned(),
            reason,
        };
        if path.len() > PATH_BYTES_MAX {
            return Err(bad("it is too long to name a node"));
        }
        if path.is_empty() {
            return Ok(TreePath::root());
        }
        if path.starts_with('/') {
            return Err(bad("it is absolute"));
        }
        for component in path.split('/') {
            match component {
                "" => return Err(bad("it has an empty component")),
                "." | ".." => return Err(bad("it has a `.` or `..` component")),
                _ => {}
            }
        }
        if path.chars().any(|c| c.is_control()) {
            return Err(bad("it contains a control character"));
        }
        if path.trim() != path {
            return Err(bad("it starts or ends with whitespace"));
        }
        Ok(TreePath(path.to_owned()))
    }

    /// The path as a string (`""` for the root).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    /// The parent directory, or `None` for the root.
    pub fn parent(&self) -> Option<TreePath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(at) => TreePath(self.0[..at].to_owned()),
            None => TreePath::root(),
        })
    }

    /// The child `name` of this directory.
    pub fn join(&self, name: &str) -> Result<TreePath, TreeError> {
        if self.is_root() {
            TreePath::new(name)
        } else {
            TreePath::new(&format!("{}/{name}", self.0))
        }
    }

    /// Components, root first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }
}

impl fmt::Display for TreePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str(".")
        } else {
            f.write_str(&self.0)
        }
    }
}

impl TryFrom<String> for TreePath {
    type Error = TreeError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        TreePath::new(&value)
    }
}

impl From<TreePath> for String {
    fn from(value: TreePath) -> Self {
        value.0
    }
}
