//! The kernel: the single writer that owns the system WARP.
//!
//! State is a fold of the ledger. The kernel's one writer takes typed commands
//! (`Command`), decides each against the working state (what records it makes, or why it
//! is refused), folds those records into the working state with `State::fold` — the one
//! function recovery, replay and time travel use — appends the group in one synced write,
//! and only then publishes the new state as a `View` and acknowledges. Readers hold views
//! and never wait on the writer.
//!
//! **Architecture invariant:** the kernel does no I/O of its own; the ledger's store is
//! the only thing it touches, and time enters only through the ledger's injectable clock.

mod access_record;
mod bundle;
mod collapse_hold;
mod collapse_record;
mod command;
mod connect_record;
mod decide;
mod durable;
mod effect_record;
mod ended;
mod error;
mod fetch_record;
mod files;
mod follow_on;
mod grants;
mod index;
mod job_record;
mod job_ruling;
mod jobs;
mod kernel;
pub mod metric_names;
mod past_graphs;
mod payload;
mod policy_record;
mod process_log;
mod process_record;
mod proposal_check;
mod recovery;
mod ruling;
mod run_environment;
mod service;
mod snapshot;
mod state;
mod sws_record;
mod time_travel;
mod verify;
mod view;
mod writ_record;
mod writs;

pub use access_record::{
    bounded_text, AccessRefused, KIND_ACCESS_REFUSED, REFUSAL_MESSAGE_BYTES_MAX,
    REFUSAL_USER_BYTES_MAX,
};
pub use bundle::{import_bundle, Imported};
pub use collapse_hold::{Hold, HoldVote, Holds, Requester, Standing};
pub use collapse_record::{
    ChangesHash, CollapseRecord, CollapseRuling, CollapseVote, KIND_SWS_RULING, KIND_SWS_VOTE,
};
#[cfg(feature = "fault-injection")]
pub use command::Fault;
pub use command::{Command, Commit, Outcome, Proposed, Request};
pub use connect_record::{
    ConnectEnd, ConnectRecord, CONNECT_HOST_BYTES_MAX, CONNECT_METHOD_BYTES_MAX,
    CONNECT_REASON_BYTES_MAX, KIND_JOB_CONNECT,
};
pub use durable::PayloadError;
pub use effect_record::{
    EffectBegin, EffectEndRecord, EffectRecord, KnownBy, Unwind, EFFECT_KEY_BYTES_MAX,
    KIND_EFFECT_BEGIN, KIND_EFFECT_END, KIND_PROCESS_UNWIND,
};
pub use ended::WorkspaceSummary;
pub use error::{CommitError, KernelError};
pub use fetch_record::{
    Body, FetchEnd, FetchRecord, ModelUsage, COST_COUNTER, FETCH_INLINE_BYTES_MAX, KIND_JOB_FETCH,
    TOKENS_COUNTER,
};
pub use files::{BlobGcOutcome, Unreferenced};
pub use follow_on::{FollowOn, FOLLOW_ONS_PER_GROUP_MAX};
pub use job_record::{
    Dispatch, Effect, FailureCause, JobRecord, Owner, Results, WorkerInstall, KIND_JOB_DISPATCH,
    KIND_JOB_DONE, KIND_JOB_FAILED, KIND_JOB_FAILED_V2, KIND_JOB_REFUSED, KIND_WORKER_INSTALL,
    KIND_WORKER_INSTALL_V1,
};
pub use job_ruling::{JobRuling, PublicJob, KIND_JOB_RULING};
pub use jobs::{Attempt, AttemptStatus, Jobs, JobsError};
pub use kernel::{Kernel, KernelOptions, GROUP_BYTES_MAX, SNAPSHOT_EVERY_DEFAULT};
pub use past_graphs::PagedGraph;
pub use payload::{decode_rewrite, encode_rewrite, KIND_GENESIS, KIND_REWRITE};
pub use policy_record::{
    PolicyDecision, PolicyRecord, RecordedPolicy, Vote, KIND_POLICY_DECISION, KIND_POLICY_LOAD,
    KIND_PROCESS_VOTE, VOTE_NOTE_BYTES_MAX,
};
pub use process_log::Page;
pub use process_record::{
    AskContext, ProcessRecord, KIND_PROCESS_ADVANCE, KIND_PROCESS_ANSWER, KIND_PROCESS_ASK,
    KIND_PROCESS_COLLAPSE, KIND_PROCESS_CONFLICT, KIND_PROCESS_DISCARD, KIND_PROCESS_END,
    KIND_PROCESS_LANE, KIND_PROCESS_RETRY, KIND_PROCESS_SUBMIT, KIND_PROCESS_SUBMIT_V1,
    KIND_PROCESS_SUBMIT_V2,
};
pub use recovery::RecoveryReport;
pub use ruling::GovernanceRefusal;
pub use run_environment::{
    BuiltinWorker, Confinement, HostEnvironment, InstalledWorker, PolicyInForce, RunEnvironment,
};
pub use service::{KernelHandle, KernelService, COMMIT_BATCH_MAX};
pub use snapshot::STATE_LAYOUT;
pub use state::{Ended, Folded, State};
pub use sws_record::{
    RefusedOp, SwsRecord, KIND_SWS_APPLY, KIND_SWS_COLLAPSE, KIND_SWS_CONFLICT, KIND_SWS_CREATE,
    KIND_SWS_DISCARD, KIND_SWS_REBASE,
};
pub use time_travel::HistoryStep;
pub use verify::{ReplayOutcome, VerifyOutcome};
pub use view::{ApprovalWait, View};
pub use writ_record::{
    Grant, SignedIssue, WritIssue, WritRaise, WritRecord, WritRevoke, KIND_WRIT_ISSUE,
    KIND_WRIT_KEY, KIND_WRIT_RAISE, KIND_WRIT_REVOKE, REVOKE_REASON_BYTES_MAX,
};
pub use writs::{LiveWrit, Revocation, WritRefusal, Writs};
