//! Named limits on the workspace pool.

/// Deepest nesting of workspaces: a workspace over the system has depth 1.
pub const NESTING_DEPTH_MAX: usize = 8;

/// Most workspaces open at once. Every open workspace over the system keeps the system's
/// change log from being pruned below its base, so the count bounds that memory too.
pub const WORKSPACES_OPEN_MAX: usize = 1_024;

/// Longest discard reason, in bytes.
pub const REASON_BYTES_MAX: usize = 4_096;
