//! A process: the running instance of an intent — its plan candidates, the one being run,
//! the state of each of its workspaces (lanes) and jobs, and where it stands. Everything
//! here is folded from records; nothing is stored as truth.

use serde::{Deserialize, Serialize};

use jitos_gov::Role;
use jitos_tasks::{Intent, Slap};

/// One process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Process {
    /// Its id: the seq of its submit record.
    pub id: u64,
    /// What it should make true.
    pub intent: Intent,
    /// Its plan candidates, in the order they are tried.
    pub slaps: std::sync::Arc<Vec<Slap>>,
    /// When it was submitted (ms, from the record).
    pub submitted_ms: u64,
    /// The candidate being run and its progress.
    pub run: Run,
    /// Attempts dispatched so far, over every candidate (bounded by the intent's
    /// `max_jobs`).
    pub attempts: usize,
    /// Where it stands.
    pub status: Status,
}

impl Process {
    /// The workspaces of its lanes that are open, lane by lane: what moving on or ending
    /// discards.
    pub fn open_workspaces(&self) -> Vec<u64> {
        self.run
            .lanes
            .iter()
            .filter_map(|lane| match lane {
                LaneState::Open { sws } => Some(*sws),
                _ => None,
            })
            .collect()
    }

    /// The attempts of its current candidate that run now.
    pub fn running_attempts(&self) -> Vec<u64> {
        self.run
            .jobs
            .iter()
            .filter_map(|job| match job {
                JobState::Running { attempt, .. } => Some(*attempt),
                _ => None,
            })
            .collect()
    }
}

/// The progress of one plan candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Which candidate.
    pub candidate: usize,
    /// Each lane of its DAG.
    pub lanes: Vec<LaneState>,
    /// Each job of its DAG.
    pub jobs: Vec<JobState>,
    /// For each job, whether the policy allowed it (directly, or once its approvals were
    /// given); always false while no policy is in force.
    pub allowed: Vec<bool>,
    /// For each job, the policy's ruling on it in words (the verdict and the rule that
    /// decided), once ruled on: what `inspect` shows.
    pub rulings: Vec<Option<String>>,
    /// The effects beyond the workspace its jobs began and that did not end as not having
    /// happened or unknown: each open one where it began, each that took place moved to
    /// the end when that became known — so the newest known is last, the order
    /// compensation reverses.
    pub effects: Vec<EffectMark>,
    /// Set once it unwinds: what it does when its compensations have run.
    pub unwinding: Option<Then>,
    /// For each job, the rounds of feedback it was given (`Feedback`): times a failure of
    /// its gate ran it again.
    pub rounds: Vec<u32>,
    /// For each job, the attempt of its gate whose failed output its next attempt is
    /// given, once a round began.
    pub fed: Vec<Option<u64>>,
}

/// An effect a job began.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectMark {
    /// The job.
    pub job: usize,
    /// The attempt that began it.
    pub attempt: u64,
    /// Its idempotency key: the same for every attempt of the job.
    pub key: String,
    /// Whether it is known to have taken place.
    pub state: EffectState,
}

/// Where an effect stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EffectState {
    /// Begun, and not known to have ended: its job must be verified, or a person asked.
    Begun,
    /// It took place.
    Happened,
}

/// What an unwinding process does once its compensations have run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Then {
    /// End.
    Finish(crate::event::Outcome),
    /// Move on to the next plan candidate.
    Advance {
        /// The candidate.
        to: usize,
        /// Why the one before was abandoned.
        why: String,
    },
}

/// The idempotency key of job `job` of candidate `candidate` of process `process`: every
/// attempt of the job has the same, so what it acts on can tell a repeat.
pub fn effect_key(process: u64, candidate: usize, job: usize) -> String {
    format!("jitos-{process}-{candidate}-{job}")
}

/// The approvals a job waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Need {
    /// How many distinct principals must approve.
    pub count: u32,
    /// The role each of them must hold (an admin holds every role).
    pub from: Role,
}

/// A lane's workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaneState {
    /// Not made yet.
    Unopened,
    /// Open: its workspace's id.
    Open {
        /// The workspace.
        sws: u64,
    },
    /// Collapsed into its parent lane's workspace (or, for lane 0, the system).
    Collapsed {
        /// The workspace.
        sws: u64,
    },
    /// Discarded: it lost its race, or its candidate was abandoned.
    Discarded {
        /// The workspace.
        sws: u64,
    },
}

impl LaneState {
    /// The lane's workspace, if it was made.
    pub fn sws(&self) -> Option<u64> {
        match self {
            LaneState::Unopened => None,
            LaneState::Open { sws }
            | LaneState::Collapsed { sws }
            | LaneState::Discarded { sws } => Some(*sws),
        }
    }
}

/// A job of the current candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobState {
    /// Not started.
    Pending,
    /// An attempt runs.
    Running {
        /// The attempt (its dispatch record's seq).
        attempt: u64,
        /// Attempts so far, this one included.
        tries: u32,
    },
    /// An attempt failed and another is due, once a retry is scheduled.
    RetryDue {
        /// Attempts so far.
        tries: u32,
    },
    /// Waiting for its retry timer.
    Waiting {
        /// Attempts so far.
        tries: u32,
        /// When the next attempt may start (ms).
        until_ms: u64,
    },
    /// An attempt with an effect beyond the workspace ended without saying whether the
    /// effect took place (a crash, a deadline, a cancel): it is verified, or a person is
    /// asked, before anything runs it again.
    Unsure {
        /// Attempts so far.
        tries: u32,
        /// Why the attempt ended, for a person.
        why: String,
    },
    /// Its question is asked; the process waits for an answer.
    Asked,
    /// It waits for approvals: those given so far, by uid.
    Gated {
        /// What it needs.
        need: Need,
        /// Who approved, in order.
        approvals: Vec<u32>,
    },
    /// Done; an ask keeps its answer.
    Done {
        /// The answer to an ask.
        value: Option<String>,
    },
    /// Failed for good.
    Failed {
        /// Why.
        why: String,
    },
    /// Ended without running to its end: its lane lost, or its candidate was abandoned.
    Cancelled,
}

impl JobState {
    /// Whether the job has reached an end it will not leave.
    pub fn is_over(&self) -> bool {
        matches!(
            self,
            JobState::Done { .. } | JobState::Failed { .. } | JobState::Cancelled
        )
    }
}

/// Where a process stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    /// Its jobs run.
    Running,
    /// It waits for a person: an ask, a failure it was told to interrupt on, or an attempt
    /// that was cut off by a crash and may not simply be repeated.
    Waiting {
        /// The job the answer is for.
        job: usize,
        /// What is asked.
        question: String,
        /// Why it is asked.
        reason: WaitReason,
    },
    /// Its goal was reached: its workspace collapsed into the system.
    Done {
        /// The record that ended it.
        seq: u64,
    },
    /// It failed.
    Failed {
        /// The record that ended it.
        seq: u64,
        /// Why.
        why: String,
    },
    /// It was cancelled.
    Cancelled {
        /// The record that ended it.
        seq: u64,
    },
}

impl Status {
    /// Whether the process has ended.
    pub fn is_over(&self) -> bool {
        matches!(
            self,
            Status::Done { .. } | Status::Failed { .. } | Status::Cancelled { .. }
        )
    }
}

/// Why a process waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitReason {
    /// An `ask` step: the answer is its value.
    Ask,
    /// A yes/no `ask` step: approve or reject.
    Approval,
    /// A job failed and its method says to interrupt: answer `retry`, `skip` or `fail`.
    Failure,
    /// A job that is not idempotent was cut off by a crash: answer `retry` (it did not
    /// take effect), `skip` (it did) or `fail`.
    Crash,
}
