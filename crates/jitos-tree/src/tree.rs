//! `Tree` and `Entry`: a file tree as paths, modes and blob references, read back from
//! the nodes that record it.

use std::collections::{BTreeMap, BTreeSet};

use jitos_warp::{BlobRef, Node, Value};
use serde::{Deserialize, Serialize};

use crate::error::TreeError;
use crate::layout::{
    node_id_of, ATTR_BLOB, ATTR_EXECUTABLE, ATTR_PATH, ATTR_SIZE, ATTR_TARGET, DIR_KIND,
    DIR_PREFIX, FILE_KIND, FILE_PREFIX, SYMLINK_KIND,
};
use crate::path::TreePath;

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Entry {
    /// A directory.
    Dir,
    /// A regular file.
    File {
        /// Its content.
        blob: BlobRef,
        /// Its length in bytes.
        size: u64,
        /// Whether any execute bit is set.
        executable: bool,
    },
    /// A symbolic link whose target stays inside the tree.
    Symlink {
        /// The target as written in the link.
        target: String,
    },
}

impl Entry {
    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self, Entry::Dir)
    }

    /// The node kind recording this entry.
    pub fn kind(&self) -> &'static str {
        match self {
            Entry::Dir => DIR_KIND,
            Entry::File { .. } => FILE_KIND,
            Entry::Symlink { .. } => SYMLINK_KIND,
        }
    }

    /// The attributes recording this entry at `path`.
    pub(crate) fn attrs(&self, path: &TreePath) -> BTreeMap<String, Value> {
        let mut attrs = BTreeMap::new();
        attrs.insert(ATTR_PATH.to_owned(), Value::Str(path.as_str().to_owned()));
        match self {
            Entry::Dir => {}
            Entry::File {
                blob,
                size,
                executable,
            } => {
                attrs.insert(ATTR_BLOB.to_owned(), Value::Blob(*blob));
                // Sizes beyond i64 cannot occur for blobs a ledger accepts; saturate anyway.
                attrs.insert(
                    ATTR_SIZE.to_owned(),
                    Value::Int(i64::try_from(*size).unwrap_or(i64::MAX)),
                );
                attrs.insert(ATTR_EXECUTABLE.to_owned(), Value::Bool(*executable));
            }
            Entry::Symlink { target } => {
                attrs.insert(ATTR_TARGET.to_owned(), Value::Str(target.clone()));
            }
        }
        attrs
    }
}

/// A file tree: every entry by path. A non-empty tree holds the root directory and the
/// parent directory of every entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tree {
    /// Entries in path order.
    pub entries: BTreeMap<TreePath, Entry>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Every blob its files refer to.
    pub fn blobs(&self) -> BTreeSet<BlobRef> {
        self.entries
            .values()
            .filter_map(|entry| match entry {
                Entry::File { blob, .. } => Some(*blob),
                _ => None,
            })
            .collect()
    }

    /// Adds an entry, creating its missing parent directories.
    pub fn insert(&mut self, path: TreePath, entry: Entry) {
        let mut parent = path.parent();
        while let Some(dir) = parent {
            parent = dir.parent();
            self.entries.entry(dir).or_insert(Entry::Dir);
        }
        self.entries.insert(path, entry);
    }

    /// Number of entries, directories included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the tree has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of files (not directories or symlinks).
    pub fn file_count(&self) -> usize {
        self.entries
            .values()
            .filter(|entry| matches!(entry, Entry::File { .. }))
            .count()
    }

    /// Total bytes of all files.
    pub fn file_bytes(&self) -> u64 {
        self.entries
            .values()
            .map(|entry| match entry {
                Entry::File { size, .. } => *size,
                _ => 0,
            })
            .fold(0u64, u64::saturating_add)
    }

    /// Reads the tree recorded in `nodes`: every node whose id starts with `dir:` or
    /// `file:`. Other nodes are ignored; a tree node that is not well formed is an error,
    /// never silently skipped.
    pub fn from_nodes<'a>(nodes: impl IntoIterator<Item = &'a Node>) -> Result<Tree, TreeError> {
        let mut tree = Tree::new();
        for node in nodes {
            let id = node.id.as_str();
            if !(id.starts_with(DIR_PREFIX) || id.starts_with(FILE_PREFIX)) {
                continue;
            }
            let (path, entry) = entry_of(node)?;
            tree.entries.insert(path, entry);
        }
        tree.check_parents()?;
        Ok(tree)
    }

    /// Checks that every entry's parent is a directory in the tree.
    pub fn check_parents(&self) -> Result<(), TreeError> {
        for path in self.entries.keys() {
            if let Some(parent) = path.parent() {
                if !self.entries.get(&parent).is_some_and(Entry::is_dir) {
                    return Err(TreeError::Orphan {
                        path: path.to_string(),
                        parent: parent.to_string(),
                    });
                }
            }
        }
        Ok(())
    }
}

/// Reads one tree node back into its path and entry, checking the id matches.
fn entry_of(node: &Node) -> Result<(TreePath, Entry), TreeError> {
    let bad = |reason: String| TreeError::BadNode {
        node: node.id.to_string(),
        reason,
    };
    let path = match node.attrs.get(ATTR_PATH) {
        Some(Value::Str(path)) => TreePath::new(path).map_err(|e| bad(e.to_string()))?,
        _ => return Err(bad(format!("no string attribute `{ATTR_PATH}`"))),
    };
    let entry = match node.kind.as_str() {
        DIR_KIND => Entry::Dir,
        FILE_KIND => {
            let blob = match node.attrs.get(ATTR_BLOB) {
                Some(Value::Blob(blob)) => *blob,
                _ => return Err(bad(format!("no blob attribute `{ATTR_BLOB}`"))),
            };
            let size = match node.attrs.get(ATTR_SIZE) {
                Some(Value::Int(size)) => {
                    u64::try_from(*size).map_err(|_| bad(format!("negative `{ATTR_SIZE}`")))?
                }
                _ => return Err(bad(format!("no integer attribute `{ATTR_SIZE}`"))),
            };
            let executable = match node.attrs.get(ATTR_EXECUTABLE) {
                Some(Value::Bool(executable)) => *executable,
                _ => return Err(bad(format!("no bool attribute `{ATTR_EXECUTABLE}`"))),
            };
            Entry::File {
                blob,
                size,
                executable,
            }
        }
        SYMLINK_KIND => match node.attrs.get(ATTR_TARGET) {
            Some(Value::Str(target)) => Entry::Symlink {
                target: target.clone(),
            },
            _ => return Err(bad(format!("no string attribute `{ATTR_TARGET}`"))),
        },
        other => return Err(bad(format!("kind {other:?} is not a tree kind"))),
    };
    let expected = node_id_of(&path, entry.is_dir()).map_err(|e| bad(e.to_string()))?;
    if expected != node.id {
        return Err(bad(format!("its path {path} belongs to node {expected}")));
    }
    Ok((path, entry))
}
