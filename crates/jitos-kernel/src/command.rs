//! The commands the kernel's one writer takes, and what each answers once its records are
//! durable. A request names one of these; the writer decides it against the state left by
//! the commands before it in its group, records it, and folds it.

use jitos_ledger::{Actor, Record};
use jitos_sched::{Answer, Decision};
use jitos_sws::{ConflictReport, Over};
use jitos_tasks::{Intent, Slap};
use jitos_tree::Tree;
use jitos_warp::{BlobRef, Rewrite, StateDigest};

use crate::{
    AccessRefused, Dispatch, FailureCause, SignedIssue, Vote, WorkerInstall, WritRaise, WritRevoke,
};

/// One change someone asks of the kernel.
#[derive(Debug, Clone)]
pub enum Command {
    /// Commit a rewrite of the system graph.
    Rewrite(Rewrite),
    /// Record `tree` as the system's file tree (one rewrite from the recorded tree).
    ImportTree(Tree),
    /// Store blobs (no record; durable with the group).
    PutBlobs(Vec<Vec<u8>>),
    /// Open a workspace over the system or an open workspace.
    SwsCreate(Over),
    /// Apply a rewrite in a workspace (refused in a live process's lane).
    SwsApply {
        /// The workspace.
        sws: u64,
        /// The rewrite.
        rewrite: Rewrite,
    },
    /// Record `tree` as a workspace's file tree.
    SwsImportTree {
        /// The workspace.
        sws: u64,
        /// The tree wanted.
        tree: Tree,
    },
    /// Collapse a workspace into its target, or record why it conflicts; with a policy in
    /// force, a collapse into the system is ruled on first and may be held for approvals.
    SwsCollapse {
        /// The workspace.
        sws: u64,
        /// Who asks, as the daemon authenticated them: the facts a ruling decides on.
        by: crate::Requester,
        /// The writ they ask under; `None` for their roles alone.
        writ: Option<u64>,
    },
    /// A person's approval or rejection of a workspace's collapse held for approvals.
    SwsVote(crate::CollapseVote),
    /// Move a workspace's base to its target's head, or record why it conflicts.
    SwsRebase(u64),
    /// End a workspace without applying it.
    SwsDiscard {
        /// The workspace.
        sws: u64,
        /// Why, kept with it.
        reason: String,
    },
    /// Hand an attempt to a worker.
    JobDispatch(Dispatch),
    /// Dispatch a job outside any process, as `by` asks (under `writ`, if given): with a
    /// policy in force it is ruled on first (`job.ruling`), and dispatched in the same
    /// step only if allowed.
    JobRun {
        /// The dispatch; its owner is `None`.
        dispatch: Dispatch,
        /// Its worker's effect class, from its manifest.
        effect: jitos_gov::Effect,
        /// Who asks, as the daemon authenticated them.
        by: crate::Requester,
        /// The writ they ask under.
        writ: Option<u64>,
    },
    /// Record an attempt that cannot start (its worker cannot be used) and its failure,
    /// together: the plan that asked for it sees the failure, not a hang.
    JobUnstartable {
        /// The attempt as it would have run.
        dispatch: Dispatch,
        /// Why it cannot start.
        detail: String,
    },
    /// End an attempt with its worker's proposal: applied, or refused with the reason.
    JobPropose {
        /// The attempt.
        attempt: u64,
        /// What the worker proposed.
        proposed: Proposed,
    },
    /// End an attempt as failed.
    JobFail {
        /// The attempt.
        attempt: u64,
        /// The cause.
        cause: FailureCause,
        /// What happened.
        detail: String,
    },
    /// Record an HTTP request made (or refused) for a running attempt, with the bodies its
    /// blob references name (stored in the same write).
    JobFetch {
        /// The record.
        record: Box<crate::FetchRecord>,
        /// The bodies too large to keep inline, whose blobs the record names.
        blobs: Vec<Vec<u8>>,
    },
    /// Record a connection a `network` attempt's worker made through its proxy.
    JobConnect(Box<crate::ConnectRecord>),
    /// Register a worker.
    WorkerInstall(WorkerInstall),
    /// Record a process with its plan candidates, and the writ it runs under.
    ProcessSubmit {
        /// What should become true.
        intent: Intent,
        /// Its plans, in the order they are tried.
        slaps: Vec<Slap>,
        /// The writ issued for it (its `for_process` is filled in with the process's id);
        /// none runs it under no writ, as processes submitted before writs did.
        writ: Option<Box<SignedIssue>>,
        /// What the daemon reports of itself and its host, recorded with the process.
        host: Box<crate::HostEnvironment>,
    },
    /// A person's answer to a waiting process.
    ProcessAnswer {
        /// The process.
        process: u64,
        /// The answer.
        answer: Answer,
    },
    /// End a process as cancelled.
    ProcessCancel(u64),
    /// A person's approval or rejection of a job held for approvals.
    ProcessVote(Vote),
    /// Bring a policy into force.
    PolicyLoad(std::sync::Arc<jitos_gov::policy::Policy>),
    /// Record one scheduler decision made at `now_ms` (any but a dispatch, which is a
    /// `JobDispatch`).
    ProcessExecute {
        /// When it was made.
        now_ms: u64,
        /// The decision.
        decision: Decision,
    },
    /// Record a writ issued (after the key that signed it, if that key is new).
    WritIssue(Box<SignedIssue>),
    /// Record a writ, and every writ delegated from it, revoked.
    WritRevoke(WritRevoke),
    /// Raise a writ's budgets.
    WritRaise(WritRaise),
    /// Record requests of one user refused for want of authority; changes no state.
    AccessRefused(AccessRefused),
    /// A command that panics on purpose, to prove the writer contains a panic to the one
    /// command it served. Built only with the `fault-injection` feature (this crate's
    /// tests; no request of the daemon's maps to it).
    #[cfg(feature = "fault-injection")]
    Fault(Fault),
}

/// Where a [`Command::Fault`] panics.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// While it is decided.
    PanicInDecide,
    /// While its records are folded into the working state: `before` is recorded and
    /// folded first, so the panic leaves the working copy half changed.
    PanicInFold {
        /// A system rewrite folded just before the panic.
        before: Rewrite,
    },
}

/// What an executed command answers, once its records are durable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A system rewrite: its record and the state digest right after it.
    Committed(Commit),
    /// One record (the last, when a command records several).
    Recorded(Record),
    /// Blobs stored, their references in order.
    Blobs(Vec<BlobRef>),
    /// A collapse or rebase that happened.
    SwsDone(Record),
    /// A collapse or rebase that conflicts: the record keeps the report.
    SwsConflicts {
        /// The `sws.conflict` record.
        record: Record,
        /// Every clash.
        report: ConflictReport,
    },
    /// A proposal applied to its workspace (`job.done`).
    ProposalDone(Record),
    /// A proposal refused (`job.refused`).
    ProposalRefused {
        /// The record.
        record: Record,
        /// Why.
        reason: String,
    },
    /// A process decision: its record and the attempts that now run for nothing.
    Executed {
        /// The record.
        record: Record,
        /// Attempts to cancel.
        cancel: Vec<u64>,
    },
    /// A process submitted: its record (whose seq is its id) and the writ issued for it.
    Submitted {
        /// The `process.submit` record.
        record: Record,
        /// The writ issued for it, if one was.
        writ: Option<u64>,
    },
}

impl Outcome {
    /// The commit a rewrite command answers.
    pub fn into_commit(self) -> Result<Commit, crate::CommitError> {
        match self {
            Outcome::Committed(commit) => Ok(commit),
            other => Err(crate::CommitError::Payload(format!(
                "a rewrite was answered {other:?}"
            ))),
        }
    }
}

/// A committed rewrite, as acknowledged to its author after the fsync.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Commit {
    /// The record.
    pub record: Record,
    /// The state digest right after it.
    pub digest: StateDigest,
}

/// One command and who asks it.
#[derive(Debug, Clone)]
pub struct Request {
    /// Who the records are by.
    pub actor: Actor,
    /// What is asked.
    pub command: Command,
}

/// What a worker proposed, as the daemon received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposed {
    /// The rewrites, for the job's workspace.
    pub rewrites: Vec<Rewrite>,
    /// Named artifacts, stored as blobs with the attempt's end.
    pub artifacts: Vec<(String, Vec<u8>)>,
    /// The worker's status code.
    pub exit_status: i32,
    /// CPU milliseconds the worker reported.
    pub cpu_ms: u64,
    /// Peak resident KiB the worker reported.
    pub max_rss_kib: u64,
}
