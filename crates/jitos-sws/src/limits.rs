//! Named limits on the workspace pool.

/// Deepest nesting of workspaces: a workspace over the system has depth 1.
pub const NESTING_DEPTH_MAX: usize = 8;

/// Most workspaces open at once. Every open workspace over the system keeps the system's
/// change log from being pruned below its base, so the count bounds that memory too.
pub const WORKSPACES_OPEN_MAX: usize = 1_024;

/// Longest discard reason, in bytes.
pub const REASON_BYTES_MAX: usize = 4_096;

/// Most entries one overlay may hold, counted as node entries, nodes with changed
/// attributes and edges (`Overlay::entries`). Attributes per node are bounded by the
/// graph's own `ATTRS_PER_NODE_MAX`, so this bounds a workspace's memory.
pub const OVERLAY_ENTRIES_MAX: usize = 2_000_000;
