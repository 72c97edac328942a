//! `Workspace`: one speculative workspace's record, and its `Status`.

use serde::{Deserialize, Serialize};

use crate::{ChangeLog, Footprint, Overlay};

/// One workspace: where it sits, what it wrote and read, and whether it is open.
/// Closed workspaces stay in the pool, queryable, until forgotten.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    /// Its id, chosen by the kernel.
    pub id: u64,
    /// The workspace it sits on, or `None` for the system.
    pub parent: Option<u64>,
    /// Its base: the target as of this seq.
    pub base_seq: u64,
    /// 1 over the system, one more per level of nesting.
    pub depth: usize,
    /// What it wrote.
    pub overlay: Overlay,
    /// What it read and wrote, key by key.
    pub footprint: Footprint,
    /// Changes made to it, kept while open children read it.
    pub log: ChangeLog,
    /// Open or how it closed.
    pub status: Status,
}

/// Whether a workspace is open, and how it closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Open: it takes rewrites.
    Open,
    /// Collapsed into its target at this seq.
    Collapsed {
        /// The seq of the collapse.
        seq: u64,
    },
    /// Discarded at this seq.
    Discarded {
        /// The seq of the discard.
        seq: u64,
        /// Why, as recorded.
        reason: String,
    },
}

impl Workspace {
    /// Whether it is open.
    pub fn is_open(&self) -> bool {
        self.status == Status::Open
    }
}
