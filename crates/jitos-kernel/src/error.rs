//! Errors of the kernel's operations.

use jitos_warp::RewriteError;

/// Why the kernel could not open, recover, read or fold.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The ledger could not be opened.
    #[error(transparent)]
    Open(#[from] jitos_ledger::OpenError),
    /// A record or snapshot could not be read.
    #[error(transparent)]
    Read(#[from] jitos_ledger::ReadError),
    /// A bundle could not be written or read.
    #[error(transparent)]
    Bundle(#[from] jitos_ledger::BundleError),
    /// A snapshot could not be written.
    #[error("cannot write snapshot: {0}")]
    SnapshotWrite(#[source] jitos_ledger::AppendError),
    /// The chain is broken; the store may only be opened read-only.
    #[error("the ledger in {dir} is broken at sequence number {seq}: {reason}; run `jitos verify --data-dir {dir}` to inspect it, or start jitosd with --read-only")]
    BrokenChain {
        /// The data directory.
        dir: String,
        /// The first bad sequence number.
        seq: u64,
        /// Why it is bad.
        reason: String,
    },
    /// A record payload could not be encoded or decoded.
    #[error("bad record payload: {0}")]
    Payload(String),
    /// A payload does not encode, or does not decode as its kind's durable type.
    #[error(transparent)]
    Durable(#[from] crate::durable::PayloadError),
    /// A stored record's payload does not decode as its kind's durable type.
    #[error("record {seq} ({kind}) cannot be read: {reason}")]
    RecordPayload {
        /// Its sequence number.
        seq: u64,
        /// Its kind.
        kind: String,
        /// Why (in the message, not a separate source, so it is printed once).
        reason: crate::durable::PayloadError,
    },
    /// A record of a kind this build does not know.
    #[error("record {seq} has unknown kind {kind:?}; it was written by a newer jitos")]
    UnknownKind {
        /// Its sequence number.
        seq: u64,
        /// Its kind.
        kind: String,
    },
    /// A recorded rewrite no longer applies: the ledger and this build disagree.
    #[error("record {seq} does not replay: {source}")]
    Replay {
        /// Its sequence number.
        seq: u64,
        /// Why it failed.
        #[source]
        source: RewriteError,
    },
    /// A sequence number beyond the head.
    #[error("sequence number {seq} is beyond the head ({head})")]
    BeyondHead {
        /// What was asked for.
        seq: u64,
        /// The newest record.
        head: u64,
    },
    /// The store is open read-only.
    #[error("the store is open read-only")]
    ReadOnly,
    /// Blobs could not be stored or deleted.
    #[error("cannot store blobs: {0}")]
    BlobWrite(#[source] jitos_ledger::AppendError),
    /// A blob that was asked for, or that a tree names, is not stored.
    #[error("blob {blob} is not stored; put its bytes first (`jitos tree import` does)")]
    BlobMissing {
        /// The blob's reference.
        blob: jitos_warp::BlobRef,
    },
    /// A file tree is malformed, or the recorded one is.
    #[error(transparent)]
    Tree(#[from] jitos_tree::TreeError),
    /// A recorded workspace operation no longer replays: the ledger and this build
    /// disagree.
    #[error("record {seq} does not replay: {source}")]
    Sws {
        /// Its sequence number.
        seq: u64,
        /// Why it failed.
        #[source]
        source: jitos_sws::SwsError,
    },
    /// A submit's environment names other workers or another policy than were in force.
    #[error("record {seq} does not replay: the workers or the policy its environment names are not those in force before it")]
    EnvironmentMismatch {
        /// The submit record.
        seq: u64,
    },
    /// A recorded collapse carries other changes than the fold computes.
    #[error("record {seq} does not replay: the collapse of workspace {sws} computes other changes than it recorded")]
    CollapseMismatch {
        /// Its sequence number.
        seq: u64,
        /// The workspace.
        sws: u64,
    },
    /// The durable write of a command's group failed; nothing of it happened.
    #[error("the ledger write failed and the operation did not happen: {0}")]
    OpWrite(String),
    /// A command would write more than one group may.
    #[error(
        "the operation would write {bytes} bytes, more than the {max} one write may hold; split it"
    )]
    TooLarge {
        /// What it would write.
        bytes: usize,
        /// The most one group writes.
        max: usize,
    },
    /// The kernel failed on a command (a bug); the command was refused and nothing of it
    /// happened.
    #[error(
        "internal error while deciding the operation (nothing was recorded; please report it): {0}"
    )]
    Internal(String),
    /// The kernel stopped before answering.
    #[error("the kernel is shutting down")]
    ShuttingDown,
    /// A recorded job or registry record no longer fits the state: the ledger and this
    /// build disagree.
    #[error("record {seq} does not replay: {source}")]
    Job {
        /// Its sequence number.
        seq: u64,
        /// Why it does not fit.
        #[source]
        source: crate::JobsError,
    },
    /// A recorded process record no longer fits the processes.
    #[error("record {seq} does not replay: {source}")]
    Process {
        /// Its sequence number.
        seq: u64,
        /// Why it does not fit.
        #[source]
        source: jitos_sched::SchedError,
    },
    /// A process operation was refused; nothing was recorded.
    #[error(transparent)]
    ProcessRefused(jitos_sched::SchedError),
    /// A job operation was refused; nothing was recorded.
    #[error(transparent)]
    JobRefused(crate::JobsError),
    /// The workspace is a live process's lane; only the process changes or ends it.
    #[error("workspace {sws} belongs to process {process}, which works in it; wait for the process to end, or stop it with `jitos cancel {process}`")]
    ProcessWorkspace {
        /// The workspace.
        sws: u64,
        /// The process that owns it.
        process: u64,
    },
    /// A workspace operation was refused; nothing was recorded.
    #[error(transparent)]
    Workspace(jitos_sws::SwsError),
    /// A writ record does not fit the writs folded before it.
    #[error("record {seq} does not fit the writs before it: {source}")]
    Writ {
        /// Its sequence number.
        seq: u64,
        /// Why it does not fit.
        #[source]
        source: crate::WritRefusal,
    },
    /// A writ operation, or a dispatch under a writ, was refused; nothing was recorded.
    #[error(transparent)]
    WritRefused(crate::WritRefusal),
    /// A policy or vote record does not fit the state before it.
    #[error("record {seq} does not fit the policy or the approvals before it: {source}")]
    Governance {
        /// Its sequence number.
        seq: u64,
        /// Why it does not fit.
        #[source]
        source: crate::GovernanceRefusal,
    },
    /// A ruling or a vote was refused; nothing was recorded.
    #[error(transparent)]
    GovernanceRefused(crate::GovernanceRefusal),
}

impl KernelError {
    /// The misfit of the record at `seq` a refusal stands for, when a fold rules again as
    /// the live path ruled (the reverse of [`KernelError::into_refusal`]).
    pub(crate) fn at_seq(self, seq: u64) -> KernelError {
        match self {
            KernelError::Workspace(source) => KernelError::Sws { seq, source },
            KernelError::WritRefused(source) => KernelError::Writ { seq, source },
            KernelError::GovernanceRefused(source) => KernelError::Governance { seq, source },
            other => other,
        }
    }

    /// The refusal a record that does not fold stands for, when it was the record of a
    /// command being decided rather than one replayed from the ledger.
    pub(crate) fn into_refusal(self) -> KernelError {
        match self {
            KernelError::Sws { source, .. } => KernelError::Workspace(source),
            KernelError::Job { source, .. } => KernelError::JobRefused(source),
            KernelError::Process { source, .. } => KernelError::ProcessRefused(source),
            KernelError::Writ { source, .. } => KernelError::WritRefused(source),
            KernelError::Governance { source, .. } => KernelError::GovernanceRefused(source),
            other => other,
        }
    }
}

/// Why one rewrite was not committed. Nothing was recorded for it.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Validation refused the rewrite.
    #[error("rewrite refused: {0}")]
    Refused(#[from] RewriteError),
    /// The rewrite could not be encoded as a payload.
    #[error("{0}")]
    Payload(String),
    /// The durable write failed; nothing changed.
    #[error("the ledger write failed and nothing was recorded: {0}")]
    Storage(String),
    /// The store is open read-only.
    #[error("the store is open read-only; restart jitosd without --read-only to make changes")]
    ReadOnly,
    /// The kernel stopped before answering.
    #[error("the kernel is shutting down")]
    ShuttingDown,
}

impl From<KernelError> for CommitError {
    /// How a refused or failed rewrite command reads to its author.
    fn from(error: KernelError) -> CommitError {
        match error {
            KernelError::Workspace(jitos_sws::SwsError::Rewrite(e)) => CommitError::Refused(e),
            KernelError::ReadOnly => CommitError::ReadOnly,
            KernelError::ShuttingDown => CommitError::ShuttingDown,
            KernelError::OpWrite(reason) => CommitError::Storage(reason),
            other => CommitError::Payload(other.to_string()),
        }
    }
}
