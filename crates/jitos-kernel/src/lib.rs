//! The kernel: the single writer that owns the system WARP.
//!
//! State is a fold of the ledger. The kernel validates each rewrite against the live
//! graph, records it durably through `jitos-ledger`, and only then acknowledges it; if the
//! durable write fails, the graph is rolled back. Everything else here — recovery, time
//! travel, per-node history, verification — is a fold of the same records.
//!
//! **Architecture invariant:** the kernel does no I/O of its own; the ledger's store is
//! the only thing it touches, and time enters only through the ledger's injectable clock.

mod bundle;
mod durable;
mod error;
mod files;
mod job_ops;
mod job_record;
mod jobs;
mod kernel;
mod payload;
mod process_ops;
mod process_record;
mod proposal_check;
mod recovery;
mod service;
mod snapshot;
mod state;
mod sws_record;
mod time_travel;
mod verify;
mod workspaces;

pub use bundle::{import_bundle, Imported};
pub use durable::PayloadError;
pub use error::{CommitError, KernelError};
pub use files::BlobGcOutcome;
pub use job_ops::{ProposalOutcome, Proposed};
pub use job_record::{
    Dispatch, Effect, FailureCause, JobRecord, Owner, Results, WorkerInstall, KIND_JOB_DISPATCH,
    KIND_JOB_DONE, KIND_JOB_FAILED, KIND_JOB_REFUSED, KIND_WORKER_INSTALL, KIND_WORKER_INSTALL_V1,
};
pub use jobs::{Attempt, AttemptStatus, Jobs, JobsError};
pub use kernel::{Commit, Kernel, KernelOptions, SNAPSHOT_EVERY_DEFAULT};
pub use payload::{decode_rewrite, encode_rewrite, KIND_GENESIS, KIND_REWRITE};
pub use process_ops::Executed;
pub use process_record::{
    AskContext, ProcessRecord, KIND_PROCESS_ADVANCE, KIND_PROCESS_ANSWER, KIND_PROCESS_ASK,
    KIND_PROCESS_COLLAPSE, KIND_PROCESS_CONFLICT, KIND_PROCESS_DISCARD, KIND_PROCESS_END,
    KIND_PROCESS_LANE, KIND_PROCESS_RETRY, KIND_PROCESS_SUBMIT,
};
pub use recovery::RecoveryReport;
pub use service::{KernelHandle, KernelService, COMMIT_BATCH_MAX};
pub use snapshot::STATE_LAYOUT;
pub use state::State;
pub use sws_record::{
    RefusedOp, SwsRecord, KIND_SWS_APPLY, KIND_SWS_COLLAPSE, KIND_SWS_CONFLICT, KIND_SWS_CREATE,
    KIND_SWS_DISCARD, KIND_SWS_REBASE,
};
pub use time_travel::HistoryStep;
pub use verify::{ReplayOutcome, VerifyOutcome};
pub use workspaces::SwsOutcome;
