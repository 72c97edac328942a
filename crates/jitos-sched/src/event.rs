//! What happens to processes, as the kernel records it: each event is the payload (or the
//! consequence) of one record, and `Processes::apply` folds it.

use serde::{Deserialize, Serialize};

use jitos_gov::policy::Verdict;
use jitos_tasks::{Intent, Slap};

use crate::process::{Then, WaitReason};

/// One event of a process's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A process was submitted; its id is the record's seq.
    Submitted {
        /// What it should make true.
        intent: Intent,
        /// Its plan candidates.
        slaps: Vec<Slap>,
    },
    /// A lane's workspace was made.
    LaneOpened {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
        /// The workspace made for it.
        sws: u64,
    },
    /// An attempt of a job was dispatched.
    Dispatched {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// The attempt (its dispatch record's seq).
        attempt: u64,
        /// The workspace it runs in: its lane's.
        sws: u64,
    },
    /// An attempt ended.
    AttemptEnded {
        /// The process.
        process: u64,
        /// The attempt.
        attempt: u64,
        /// How.
        outcome: AttemptOutcome,
    },
    /// A failed job's next attempt is due at a time.
    RetryScheduled {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// When (ms).
        until_ms: u64,
    },
    /// The process asks a person and waits.
    Asked {
        /// The process.
        process: u64,
        /// The job the answer is for.
        job: usize,
        /// The question.
        question: String,
        /// Why it asks.
        reason: WaitReason,
    },
    /// A person answered.
    Answered {
        /// The process.
        process: u64,
        /// The answer.
        answer: Answer,
    },
    /// The policy ruled on a job before it runs (a worker's job) or is asked (a yes/no
    /// step): allowed, denied, or held for approvals.
    Ruled {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// The verdict.
        verdict: Verdict,
        /// The ruling in words (the rule that decided), for a person.
        why: String,
    },
    /// A person approved or rejected a job waiting for approvals.
    Voted {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// Their uid: one principal counts once.
        by: u32,
        /// Their name.
        user: String,
        /// Approve (or reject, which vetoes).
        approve: bool,
        /// Their comment, or the reason for a rejection.
        note: String,
    },
    /// A lane's workspace was collapsed into its parent's (or the system).
    LaneCollapsed {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
    },
    /// A lane's collapse was refused by a conflict.
    LaneConflict {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
        /// The conflict, for a person.
        why: String,
    },
    /// A lane's workspace was discarded.
    LaneDiscarded {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
    },
    /// The process moved on to its next plan candidate; the open workspaces of the one
    /// abandoned are discarded with this record.
    Advanced {
        /// The process.
        process: u64,
        /// The candidate now run.
        to: usize,
        /// Why the one before was abandoned.
        why: String,
    },
    /// An attempt of a job whose effect leaves the workspace is about to start: recorded
    /// with its dispatch, before the worker runs.
    EffectBegun {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// The attempt.
        attempt: u64,
        /// Its idempotency key.
        key: String,
    },
    /// A begun effect is known to have taken place or not: from its attempt's end, its
    /// verify job, or a person.
    EffectEnded {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// Whether it took place.
        end: EffectEnd,
    },
    /// The process unwinds: the effects that took place are compensated, newest first,
    /// before it does `then`; its running attempts are cancelled with this record.
    Unwinding {
        /// The process.
        process: u64,
        /// What it does afterwards.
        then: Then,
        /// Why.
        why: String,
    },
    /// The process ended; its open workspaces are discarded with this record.
    Finished {
        /// The process.
        process: u64,
        /// How.
        outcome: Outcome,
    },
}

impl Event {
    /// The process it happens to; none for a submission, whose process is the id of the
    /// record that carries it.
    pub fn process(&self) -> Option<u64> {
        match self {
            Event::Submitted { .. } => None,
            Event::LaneOpened { process, .. }
            | Event::Dispatched { process, .. }
            | Event::AttemptEnded { process, .. }
            | Event::RetryScheduled { process, .. }
            | Event::Asked { process, .. }
            | Event::Answered { process, .. }
            | Event::Ruled { process, .. }
            | Event::Voted { process, .. }
            | Event::LaneCollapsed { process, .. }
            | Event::LaneConflict { process, .. }
            | Event::LaneDiscarded { process, .. }
            | Event::Advanced { process, .. }
            | Event::EffectBegun { process, .. }
            | Event::EffectEnded { process, .. }
            | Event::Unwinding { process, .. }
            | Event::Finished { process, .. } => Some(*process),
        }
    }
}

/// How an attempt ended, as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// Its proposal was applied and the worker's exit status was 0.
    Succeeded,
    /// It failed, was refused, or exited non-zero.
    Failed {
        /// Why, for a person.
        why: String,
        /// The worker ran to its end and answered no (a non-zero exit status, or a refused
        /// proposal), as opposed to the attempt itself failing (a crash, a deadline, a
        /// broken protocol). A gate's verdict is final; every other failure is retried.
        verdict: bool,
    },
    /// The daemon stopped while it ran: whether it took effect is unknown.
    CutOff,
    /// The worker ran to its end but its proposal was refused. For most jobs that is a
    /// verdict like a non-zero exit status; for one whose effect reaches beyond its
    /// workspace, or a verify job, it says nothing of the effect, which the worker made
    /// (or not) as it ran.
    Refused {
        /// Why, for a person.
        why: String,
    },
}

/// Whether a begun effect took place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectEnd {
    /// It did.
    Happened,
    /// It did not: its job may run again.
    NotHappened,
    /// No one knows: the process ended before anyone found out.
    Unknown,
}

/// A person's answer to a waiting process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Answer {
    /// A value, for an `ask` step.
    Value(String),
    /// Yes, for a yes/no step.
    Approve,
    /// No, for a yes/no step.
    Reject,
    /// Run the job again.
    Retry,
    /// Take the job as done.
    Skip,
    /// End the process as failed.
    Fail,
}

/// How a process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Its goal was reached.
    Done,
    /// It failed.
    Failed {
        /// Why.
        why: String,
    },
    /// It was cancelled.
    Cancelled,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Answer::Value(value) => write!(f, "the value {value}"),
            Answer::Approve => f.write_str("approve"),
            Answer::Reject => f.write_str("reject"),
            Answer::Retry => f.write_str("retry the job"),
            Answer::Skip => f.write_str("take the job as done"),
            Answer::Fail => f.write_str("end the process as failed"),
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Done => f.write_str("done"),
            Outcome::Failed { why } => write!(f, "failed: {why}"),
            Outcome::Cancelled => f.write_str("cancelled"),
        }
    }
}
