//! `SwsError`: why a pool operation was refused. The pool is unchanged.

use jitos_warp::{GraphBuildError, RewriteError};

use crate::{ConflictReport, Status};

/// Why a `Pool` operation was refused. Every refusal leaves the pool as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SwsError {
    /// No workspace has this id.
    #[error("no workspace has id {id}: list the pool's workspaces for valid ids")]
    UnknownWorkspace {
        /// The id.
        id: u64,
    },
    /// A workspace with this id exists already (open or closed).
    #[error("workspace id {id} is taken: pick a fresh id")]
    DuplicateId {
        /// The id.
        id: u64,
    },
    /// The workspace is collapsed or discarded.
    #[error("workspace {id} is closed ({status:?}): create a new workspace to continue")]
    Closed {
        /// The id.
        id: u64,
        /// How it closed.
        status: Status,
    },
    /// The workspace is still open (only closed workspaces can be forgotten).
    #[error("workspace {id} is still open: collapse or discard it first")]
    StillOpen {
        /// The id.
        id: u64,
    },
    /// The workspace has open children, which read it as their base.
    #[error("workspace {id} has open children {children:?}: collapse or discard them first")]
    HasOpenChildren {
        /// The id.
        id: u64,
        /// The open children.
        children: Vec<u64>,
    },
    /// A new workspace would nest deeper than `NESTING_DEPTH_MAX`.
    #[error("a workspace at depth {depth} nests too deep; at most {max} levels are allowed: create it over a shallower workspace")]
    TooDeep {
        /// The depth it would have.
        depth: usize,
        /// The limit.
        max: usize,
    },
    /// `WORKSPACES_OPEN_MAX` workspaces are open already.
    #[error("{max} workspaces are open, the most allowed: collapse or discard some first")]
    TooManyOpen {
        /// The limit.
        max: usize,
    },
    /// The change would grow the overlay beyond `OVERLAY_ENTRIES_MAX`.
    #[error(
        "workspace {id} would hold {entries} overlay entries; at most {max} are allowed: \
         collapse it and continue in a new workspace"
    )]
    OverlayTooLarge {
        /// The workspace.
        id: u64,
        /// Entries it would hold.
        entries: usize,
        /// The limit.
        max: usize,
    },
    /// The discard reason is longer than `REASON_BYTES_MAX`.
    #[error("the discard reason is {bytes} bytes long; at most {max} are allowed: shorten it")]
    ReasonTooLong {
        /// Its length.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A workspace over the system was asked at a seq the system's change log no longer
    /// covers.
    #[error("seq {at_seq} is older than {floor}, the oldest state of the system the pool can still show: create the workspace at seq {floor} or later")]
    BaseTooOld {
        /// The seq asked for.
        at_seq: u64,
        /// The oldest seq available.
        floor: u64,
    },
    /// A workspace was asked over a state later than the operation's own seq.
    #[error("seq {at_seq} is after the operation's seq {seq}: a base must be in the past")]
    BaseInFuture {
        /// The seq asked for.
        at_seq: u64,
        /// The operation's seq.
        seq: u64,
    },
    /// Sequence numbers went backwards.
    #[error("seq {seq} is not after the pool's last seq {last}: pass ledger seqs in order (workspace operations strictly increasing, system commits non-decreasing)")]
    SeqOutOfOrder {
        /// The seq given.
        seq: u64,
        /// The last seq the pool saw.
        last: u64,
    },
    /// The rewrite was refused by the graph's own validation; the workspace is unchanged.
    #[error("the rewrite was refused: {0}")]
    Rewrite(#[from] RewriteError),
    /// The workspace conflicts with changes its target made since its base.
    #[error("{0}: rebase or discard the workspace")]
    Conflicts(Box<ConflictReport>),
    /// A view of the pool was internally inconsistent (a bug, or a corrupt snapshot).
    #[error("the pool's state is inconsistent ({0}): restore it from the ledger")]
    Inconsistent(GraphBuildError),
}
