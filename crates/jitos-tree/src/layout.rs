//! How tree entries are laid out as nodes: ids, kinds, attribute keys and the edge label.

use jitos_warp::{IdError, NodeId};

use crate::path::TreePath;

/// Kind of a directory node.
pub const DIR_KIND: &str = "Dir";
/// Kind of a regular file node.
pub const FILE_KIND: &str = "File";
/// Kind of a symbolic link node.
pub const SYMLINK_KIND: &str = "Symlink";
/// Label of the edge from a directory to each entry in it.
pub const CONTAINS_LABEL: &str = "contains";
/// Id of the root directory node.
pub const ROOT_ID: &str = "dir:.";

/// Prefix of directory node ids.
pub(crate) const DIR_PREFIX: &str = "dir:";
/// Prefix of file and symlink node ids.
pub(crate) const FILE_PREFIX: &str = "file:";
/// The longest prefix, which bounds how long a path may be.
pub(crate) const ID_PREFIX_BYTES_MAX: usize = 5;

/// Attribute: the entry's path.
pub(crate) const ATTR_PATH: &str = "path";
/// Attribute: a file's content, as a blob reference.
pub const ATTR_BLOB: &str = "blob";
/// Attribute: a file's size in bytes.
pub const ATTR_SIZE: &str = "size";
/// Attribute: whether a file is executable.
pub(crate) const ATTR_EXECUTABLE: &str = "executable";
/// Attribute: a symlink's target, as written in the link.
pub(crate) const ATTR_TARGET: &str = "target";

/// The node id of the entry at `path`: `dir:<path>` for directories (`dir:.` for the root),
/// `file:<path>` for files and symlinks.
pub fn node_id_of(path: &TreePath, is_dir: bool) -> Result<NodeId, IdError> {
    if path.is_root() {
        return NodeId::new(ROOT_ID);
    }
    let prefix = if is_dir { DIR_PREFIX } else { FILE_PREFIX };
    NodeId::new(format!("{prefix}{}", path.as_str()))
}

/// The tree path a node id names, when it is a tree node's id (`dir:<path>` or
/// `file:<path>`); `"."` for the root. Used to tell file changes from other graph changes.
pub fn tree_path_of_id(id: &NodeId) -> Option<&str> {
    let id = id.as_str();
    id.strip_prefix(DIR_PREFIX)
        .or_else(|| id.strip_prefix(FILE_PREFIX))
}
