//! The wire types of processes: what a client submits, answers and reads about them.

use std::fmt;

use jitos_gov::Role;
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
    /// Where it stands.
    pub status: ProcessStatus,
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
    /// What it does.
    pub kind: PlanJobKind,
    /// Where it stands.
    pub state: PlanJobState,
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
    /// Where its workspace stands.
    pub state: PlanLaneState,
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
    /// What it does, as in the first process that has it.
    pub kind: PlanJobKind,
    /// How it went in A; `None` when A's plan has no such job.
    pub a: Option<JobRun>,
    /// How it went in B.
    pub b: Option<JobRun>,
}

/// How one job went in one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRun {
    /// Where it stands.
    pub state: PlanJobState,
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
    /// only. A state is compared by its name (`done`, `failed`, `running`, …), not what it
    /// carries: attempts and times differ between any two runs, as their durations do.
    pub fn differs(&self) -> bool {
        let outcome =
            |run: &Option<JobRun>| run.as_ref().map(|run| (run.state.name(), run.attempts));
        outcome(&self.a) != outcome(&self.b)
    }
}

impl Compared {
    /// Whether A and B differ on it.
    pub fn differs(&self) -> bool {
        self.a != self.b
    }
}

/// Where a process stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessStatus {
    /// Its jobs run, or are due to.
    Running,
    /// It waits for a person: an answer, an approval, or what to do after a failure.
    Waiting,
    /// It reached its goal.
    Done,
    /// It ended without reaching its goal.
    Failed,
    /// It was cancelled.
    Cancelled,
}

impl ProcessStatus {
    /// Its name, as tables and `--json` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessStatus::Running => "running",
            ProcessStatus::Waiting => "waiting",
            ProcessStatus::Done => "done",
            ProcessStatus::Failed => "failed",
            ProcessStatus::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for ProcessStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a job of a plan does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanJobKind {
    /// Runs a worker.
    Run {
        /// The worker's name.
        worker: String,
    },
    /// Asks a person for a value.
    Ask,
    /// Races its alternatives, each in a lane of its own.
    Race,
}

/// `run WORKER`, `ask` or `race`.
impl fmt::Display for PlanJobKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, so a table's width applies.
        match self {
            PlanJobKind::Run { worker } => f.pad(&format!("run {worker}")),
            PlanJobKind::Ask => f.pad("ask"),
            PlanJobKind::Race => f.pad("race"),
        }
    }
}

/// Where a job of a plan stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanJobState {
    /// Not started.
    Pending,
    /// An attempt runs.
    Running {
        /// The attempt (its dispatch record's seq).
        attempt: u64,
        /// Attempts so far, this one included.
        tries: u32,
    },
    /// An attempt failed and another is due.
    RetryDue {
        /// Attempts so far.
        tries: u32,
    },
    /// Waiting for its retry timer.
    Waiting {
        /// When the next attempt may start (ms since the epoch).
        until_ms: u64,
        /// Attempts so far.
        tries: u32,
    },
    /// An attempt with an effect beyond its workspace ended without saying whether the
    /// effect took place; it is verified, or a person asked, before it runs again.
    Unsure {
        /// Attempts so far.
        tries: u32,
        /// Why the attempt ended.
        why: String,
    },
    /// Its question is asked; a person's answer is awaited.
    Asked,
    /// It waits for approvals.
    Gated {
        /// Who approved so far, by uid, in order.
        approved_by: Vec<u32>,
        /// How many distinct principals must approve.
        need: u32,
        /// The role each of them must hold.
        from: Role,
    },
    /// Done.
    Done {
        /// An ask's answer (JSON text).
        value: Option<String>,
    },
    /// Failed for good.
    Failed {
        /// Why.
        why: String,
    },
    /// Ended without running to its end: its lane lost, or its plan was abandoned.
    Cancelled,
}

impl PlanJobState {
    /// The state's name, without what it carries: `pending`, `running`, `retry due`,
    /// `waiting`, `unsure`, `asked`, `gated`, `done`, `failed` or `cancelled`.
    pub fn name(&self) -> &'static str {
        match self {
            PlanJobState::Pending => "pending",
            PlanJobState::Running { .. } => "running",
            PlanJobState::RetryDue { .. } => "retry due",
            PlanJobState::Waiting { .. } => "waiting",
            PlanJobState::Unsure { .. } => "unsure",
            PlanJobState::Asked => "asked",
            PlanJobState::Gated { .. } => "gated",
            PlanJobState::Done { .. } => "done",
            PlanJobState::Failed { .. } => "failed",
            PlanJobState::Cancelled => "cancelled",
        }
    }
}

/// The state as `jitos inspect` words it, with its attempt, reason or answer.
impl fmt::Display for PlanJobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Worded first, then padded, so a table's width applies.
        f.pad(&self.words())
    }
}

impl PlanJobState {
    /// The state in words, unpadded.
    fn words(&self) -> String {
        match self {
            PlanJobState::Pending => "pending".to_owned(),
            PlanJobState::Running { attempt, tries } => {
                format!("running (attempt {attempt}, try {tries})")
            }
            PlanJobState::RetryDue { tries } => format!("retry due after {tries} tries"),
            PlanJobState::Waiting { until_ms, tries } => {
                format!("waiting to retry at {until_ms} ms (after {tries} tries)")
            }
            PlanJobState::Unsure { tries, why } => format!(
                "unsure whether its effect took place (after {tries} tries: {why}); verifying or asking"
            ),
            PlanJobState::Asked => "asked: waiting for a person".to_owned(),
            PlanJobState::Gated {
                approved_by,
                need,
                from,
            } => format!(
                "waiting for approvals: {} of {need} from {from}",
                approved_by.len()
            ),
            PlanJobState::Done { value: None } => "done".to_owned(),
            PlanJobState::Done { value: Some(v) } => format!("done: {v}"),
            PlanJobState::Failed { why } => format!("failed: {why}"),
            PlanJobState::Cancelled => "cancelled".to_owned(),
        }
    }
}

/// Where the workspace of a plan's lane stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanLaneState {
    /// Not made yet.
    Unopened,
    /// Open.
    Open,
    /// Collapsed into its parent lane's workspace (or, for lane 0, the system).
    Collapsed,
    /// Discarded: it lost its race, or its plan was abandoned.
    Discarded,
}

impl PlanLaneState {
    /// Its name, as tables and `--json` show it.
    pub fn as_str(self) -> &'static str {
        match self {
            PlanLaneState::Unopened => "unopened",
            PlanLaneState::Open => "open",
            PlanLaneState::Collapsed => "collapsed",
            PlanLaneState::Discarded => "discarded",
        }
    }
}

impl fmt::Display for PlanLaneState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}
