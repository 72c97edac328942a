//! The deterministic scheduler: processes folded from their events
//! (`Processes::apply`), and the one next decision each state calls for
//! (`Processes::decide`). The kernel records every decision before it acts on it, so
//! replaying the ledger reproduces every decision without calling any worker.
//!
//! Architecture Invariant: this crate is pure — no clock (the time is an argument), no
//! I/O, no randomness, only ordered collections — so the same events and times always give
//! the same state and the same decisions.

mod decide;
mod event;
mod grants;
mod process;
mod processes;

pub use decide::{Base, Capacity, Decision, BACKOFF_MS_MAX};
pub use event::{Answer, AttemptOutcome, EffectEnd, Event, Outcome};
pub use grants::{Grants, Refusal, Unbounded};
pub use process::{
    effect_key, EffectMark, EffectState, JobState, LaneState, Need, Process, Run, Status, Then,
    WaitReason,
};
pub use processes::Processes;

/// Why an event does not fit the processes' state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchedError {
    /// The event names a process that was never submitted.
    #[error("no process {process}")]
    UnknownProcess {
        /// The process named.
        process: u64,
    },
    /// The process has ended.
    #[error("process {process} has ended")]
    Ended {
        /// The process.
        process: u64,
    },
    /// A submit without plan candidates.
    #[error("a process needs at least one plan candidate")]
    NoCandidates,
    /// The event does not fit where the process stands.
    #[error("process {process}: {what}")]
    Misfit {
        /// The process.
        process: u64,
        /// What does not fit.
        what: String,
    },
    /// A principal approved a job they already approved: one principal counts once.
    #[error(
        "{user} has already approved process {process}'s waiting job; one principal counts once"
    )]
    AlreadyApproved {
        /// The process.
        process: u64,
        /// Who.
        user: String,
    },
    /// An answer of the wrong kind.
    #[error("process {process} waits for {expected}, not {got}")]
    WrongAnswer {
        /// The process.
        process: u64,
        /// What it waits for.
        expected: &'static str,
        /// What came.
        got: String,
    },
}
