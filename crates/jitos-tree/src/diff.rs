//! `diff_trees`: the file-level changes between two trees.

use serde::{Deserialize, Serialize};

use crate::path::TreePath;
use crate::tree::{Entry, Tree};

/// One path that differs between two trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TreeChange {
    /// Only in the second tree.
    Added {
        /// The path.
        path: TreePath,
        /// The new entry.
        entry: Entry,
    },
    /// Only in the first tree.
    Removed {
        /// The path.
        path: TreePath,
        /// The old entry.
        entry: Entry,
    },
    /// In both, different (content, mode, link target or type).
    Modified {
        /// The path.
        path: TreePath,
        /// The old entry.
        old: Entry,
        /// The new entry.
        new: Entry,
    },
}

impl TreeChange {
    /// The path that changed.
    pub fn path(&self) -> &TreePath {
        match self {
            TreeChange::Added { path, .. }
            | TreeChange::Removed { path, .. }
            | TreeChange::Modified { path, .. } => path,
        }
    }
}

/// Every path whose entry differs from `old` to `new`, in path order.
pub fn diff_trees(old: &Tree, new: &Tree) -> Vec<TreeChange> {
    let mut changes = Vec::new();
    let mut old_entries = old.entries.iter().peekable();
    let mut new_entries = new.entries.iter().peekable();
    loop {
        let change = match (old_entries.peek(), new_entries.peek()) {
            (None, None) => break,
            (Some((path, entry)), None) => {
                let change = removed(path, entry);
                old_entries.next();
                change
            }
            (None, Some((path, entry))) => {
                let change = added(path, entry);
                new_entries.next();
                change
            }
            (Some((old_path, old_entry)), Some((new_path, new_entry))) => {
                match old_path.cmp(new_path) {
                    std::cmp::Ordering::Less => {
                        let change = removed(old_path, old_entry);
                        old_entries.next();
                        change
                    }
                    std::cmp::Ordering::Greater => {
                        let change = added(new_path, new_entry);
                        new_entries.next();
                        change
                    }
                    std::cmp::Ordering::Equal => {
                        let change = (old_entry != new_entry).then(|| TreeChange::Modified {
                            path: (*old_path).clone(),
                            old: (*old_entry).clone(),
                            new: (*new_entry).clone(),
                        });
                        old_entries.next();
                        new_entries.next();
                        change
                    }
                }
            }
        };
        changes.extend(change);
    }
    changes
}

fn removed(path: &TreePath, entry: &Entry) -> Option<TreeChange> {
    Some(TreeChange::Removed {
        path: path.clone(),
        entry: entry.clone(),
    })
}

fn added(path: &TreePath, entry: &Entry) -> Option<TreeChange> {
    Some(TreeChange::Added {
        path: path.clone(),
        entry: entry.clone(),
    })
}
