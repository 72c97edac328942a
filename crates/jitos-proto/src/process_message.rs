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
    /// The environment it was submitted into, as named values (the daemon's version and
    /// settings digest, the method library, the policy, each worker's binary, the kernel's
    /// confinement); `None` for a process submitted before environments were recorded.
    pub environment: Option<Vec<(String, String)>>,
}

/// Two processes side by side (`jitos diff A B`): what each planned, how each job went,
/// what each changed in the files, and what each ran in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunComparison {
    /// The first process.
    pub a: RunSide,
    /// The second process.
    pub b: RunSide,
    /// The plans as `jitos plan --explain` shows them, every line of A's against B's as a
    /// line diff (each starts with ` `, `-` or `+`); empty when they are the same.
    pub plans_diff: Vec<String>,
    /// Each job of either current plan, by its path in the decomposition.
    pub jobs: Vec<JobComparison>,
    /// Each file either process changed in the system, by path.
    pub files: Vec<Compared>,
    /// Each entry of either environment, by name.
    pub environment: Vec<Compared>,
}

/// One side of a [`RunComparison`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSide {
    /// The process in a line.
    pub summary: ProcessSummary,
    /// Its parameters.
    pub params: Vec<(String, String)>,
    /// From its submit to its last record (ms).
    pub took_ms: u64,
    /// Whether its environment was recorded (a process submitted before environments
    /// were has none; the comparison then shows no environment).
    pub environment_recorded: bool,
    /// Whether it was compared on part of itself: a log longer than is read, or more
    /// collapses than their files are compared for.
    pub partial: bool,
}

/// One job in a [`RunComparison`]: how it went in each process it is in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobComparison {
    /// Its path in the decomposition.
    pub id: String,
    /// `run WORKER`, `ask` or `race`, as in the first process that has it.
    pub kind: String,
    /// How it went in A; `None` when A's plan has no such job.
    pub a: Option<JobRun>,
    /// How it went in B.
    pub b: Option<JobRun>,
}

/// How one job went in one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    /// Its state, as `jitos show` words it.
    pub state: String,
    /// Attempts dispatched for it.
    pub attempts: u32,
    /// Time its attempts ran, from each dispatch to its end (ms).
    pub took_ms: u64,
}

/// One named thing two processes are compared on, with its value in each (`None`: not
/// there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Compared {
    /// Its name: a path, or an environment entry.
    pub name: String,
    /// In A.
    pub a: Option<String>,
    /// In B.
    pub b: Option<String>,
}

impl JobComparison {
    /// Whether it went differently: another state or number of attempts, or in one plan
    /// only. A state is compared by its first word (`done`, `failed`, `running`, …): what
    /// follows names attempts and times, which differ between any two runs, as their
    /// durations do.
    pub fn differs(&self) -> bool {
        let outcome = |run: &Option<JobRun>| {
            run.as_ref().map(|run| {
                let word = run.state.split([' ', ':']).next().unwrap_or_default();
                (word.to_owned(), run.attempts)
            })
        };
        outcome(&self.a) != outcome(&self.b)
    }
}

impl Compared {
    /// Whether A and B differ on it.
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}
