//! The wire types of processes: what a client submits, answers and reads about them.

use serde::{Deserialize, Serialize};

/// A person's answer to a waiting process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnswerView {
    /// A value (JSON text), for an `ask` step.
    Value(String),
    /// Run the failed or cut-off job again.
    Retry,
    /// Take the job as done.
    Skip,
    /// End the process as failed.
    Fail,
}

/// One process, in a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// Its id: the seq of its submit record.
    pub id: u64,
    /// Its goal task.
    pub goal: String,
    /// `running`, `waiting`, `done`, `failed` or `cancelled`.
    pub status: String,
    /// Why it failed, or what it waits for.
    pub detail: Option<String>,
    /// The plan candidate being run (from 1).
    pub plan: usize,
    /// How many candidates it has.
    pub plans: usize,
    /// Jobs of the current plan that are done.
    pub jobs_done: usize,
    /// Jobs of the current plan.
    pub jobs: usize,
    /// Attempts dispatched, over every plan.
    pub attempts: usize,
    /// When it was submitted (ms since the epoch).
    pub submitted_ms: u64,
}

/// One job of a process's current plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessJobView {
    /// Its path in the decomposition.
    pub id: String,
    /// The lane (workspace) it runs in.
    pub lane: usize,
    /// `run WORKER`, `ask` or `race`.
    pub kind: String,
    /// `pending`, `running`, `retry due`, `waiting`, `asked`, `done`, `failed` or
    /// `cancelled`, with the attempt or the reason.
    pub state: String,
    /// Jobs it waits for, by index.
    pub after: Vec<usize>,
    /// The policy's ruling on it, in words, once ruled on.
    pub ruling: Option<String>,
}

/// One lane of a process's current plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessLaneView {
    /// Its index.
    pub lane: usize,
    /// The alternative it runs.
    pub path: String,
    /// `unopened`, `open`, `collapsed` or `discarded`.
    pub state: String,
    /// Its workspace, once made.
    pub sws: Option<u64>,
}

/// One process in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessDetail {
    /// The line.
    pub summary: ProcessSummary,
    /// Its parameters.
    pub params: Vec<(String, String)>,
    /// What it waits for: the question and the kind of answer wanted.
    pub waiting: Option<(String, String)>,
    /// While it waits: the files its workspace has changed, as `added PATH`,
    /// `modified PATH` or `removed PATH`.
    pub waiting_files: Vec<String>,
    /// The plans and the decomposition, as `jitos plan --explain` shows them.
    pub explain: String,
    /// The current plan's jobs.
    pub jobs: Vec<ProcessJobView>,
    /// The current plan's lanes.
    pub lanes: Vec<ProcessLaneView>,
}
