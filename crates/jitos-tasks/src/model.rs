//! The method library as checked data: tasks, their methods and steps, primitive runs and
//! questions, and the preconditions methods are chosen by.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A task: what should become true. Compound tasks are decomposed by one of their methods;
/// primitive ones run a worker or ask a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// Its name, unique in the library.
    pub name: String,
    /// The parameters it takes, by name; every one must be given a value.
    pub params: Vec<String>,
    /// How it is done.
    pub body: Body,
}

/// How a task is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Body {
    /// By one of these methods, the first whose preconditions hold.
    Compound(Vec<Method>),
    /// By a job on a worker.
    Run(Run),
    /// By a person's answer: the process waits, without holding a worker.
    Ask(Ask),
}

/// One way to do a compound task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Method {
    /// Its name, unique within the task.
    pub name: String,
    /// What must hold for the method to apply.
    pub when: Vec<Condition>,
    /// Its steps, each a task with parameter values; ordered by `Step::after`.
    pub steps: Vec<Step>,
    /// The steps are alternatives, each run in a sibling workspace: the first whose
    /// jobs (gates included) all succeed is collapsed, the others are discarded.
    pub race: bool,
    /// What a failure of this method leads to.
    pub on_failure: OnFailure,
}

/// A step of a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Its id within the method (the task's name unless given).
    pub id: String,
    /// The task it does.
    pub task: String,
    /// Values for the task's parameters: templates over the method's task's parameters.
    pub with: BTreeMap<String, String>,
    /// Steps of the same method that must be done first.
    pub after: Vec<String>,
    /// A primitive task that tells whether this step's effect took place (exit status 0:
    /// it did), run when an attempt ended without saying so, instead of asking a person.
    pub verify: Option<String>,
    /// A primitive task that undoes this step's effect, run (newest effect first) when a
    /// later step fails or the process is cancelled.
    pub compensate: Option<String>,
    /// A later gate step whose failure runs this step again with that failure's output as
    /// its input, then the steps after it up to the gate, for a bounded number of rounds.
    #[serde(default)]
    pub feedback: Option<FeedbackFrom>,
}

/// Where a step's feedback comes from (`feedback_from` and `rounds` in a library).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackFrom {
    /// The id of the gate step, later in the same method.
    pub step: String,
    /// How many times the gate's failure may be fed back, from 1 to
    /// `FEEDBACK_ROUNDS_MAX`.
    pub rounds: u32,
}

/// What a failed method leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum OnFailure {
    /// Try the task's next plan candidate (the next applicable method).
    #[default]
    Next,
    /// Discard the process's workspace and end the process as failed.
    Discard,
    /// Interrupt the process and ask a person what to do.
    Interrupt,
}

/// The daemon's built-in job that writes its workspace's files into a directory on the
/// host the operator granted (`args = ["write" | "verify" | "remove", DIR]`): its effect
/// is `local` whatever its task says.
pub const MATERIALIZE: &str = "materialize";

/// What a primitive task's job may change, from least to most: a job's class is the
/// greater of its task's and its worker's manifest's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Effect {
    /// The graph of its workspace only.
    None,
    /// Its workspace's files too.
    Workspace,
    /// Files on this host outside any workspace (an output directory).
    Local,
    /// Other hosts, over the network.
    Network,
    /// Something that cannot be taken back.
    Irreversible,
}

impl Effect {
    /// Whether it reaches beyond the job's workspace: such a job's attempts are recorded
    /// as effects (`effect.begin`, `effect.end`) and never run again blindly.
    pub fn leaves_workspace(self) -> bool {
        self >= Effect::Local
    }
}

/// A primitive task that runs a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// The worker's name.
    pub worker: String,
    /// Its arguments: templates over the task's parameters.
    pub args: Vec<String>,
    /// What its proposal may change.
    pub effect: Effect,
    /// Whether running it twice has the effect of running it once, so a crashed attempt
    /// may be retried without asking anyone.
    pub idempotent: bool,
    /// Seconds before the worker is killed.
    pub timeout_secs: u64,
    /// Attempts after the first when one fails.
    pub retries: u32,
    /// Milliseconds before the first retry; each further one waits twice as long.
    pub backoff_ms: u64,
    /// A check: the job must end with exit status 0 for its method to succeed.
    pub gate: bool,
    /// Tree paths its proposal may touch: templates; empty for the whole tree.
    pub paths: Vec<String>,
}

/// A primitive task that asks a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The question: a template over the task's parameters.
    pub question: String,
    /// Answered by approve or reject rather than a value.
    pub yes_no: bool,
}

/// A precondition of a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Condition {
    /// A parameter has this value (a template).
    Param {
        /// The parameter.
        param: String,
        /// The value it must have.
        equals: String,
    },
    /// A node exists (or, with `exists = false`, does not).
    Node {
        /// The node's id: a template.
        node: String,
        /// Whether it must exist.
        exists: bool,
    },
    /// A node's attribute has this value.
    Attr {
        /// The node's id: a template.
        node: String,
        /// The attribute.
        attr: String,
        /// The value it must have.
        equals: jitos_warp::Value,
    },
}
