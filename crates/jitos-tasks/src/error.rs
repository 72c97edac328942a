//! Errors: a library or intent that does not load names its file, line and column; a plan
//! that cannot be made says which task and why.

use std::path::PathBuf;

/// Why a library or intent file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}{at}: {message}", path = path.display(), at = place(*at))]
pub struct SourceError {
    /// The file.
    pub path: PathBuf,
    /// Line and column (from 1), when the problem has a place.
    pub at: Option<(usize, usize)>,
    /// What is wrong, and what would be right.
    pub message: String,
}

fn place(at: Option<(usize, usize)>) -> String {
    match at {
        Some((line, column)) => format!(":{line}:{column}"),
        None => String::new(),
    }
}

/// Where in a source text a byte offset falls, as line and column from 1.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

/// Why an intent could not be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The goal is no task of the library.
    #[error("the goal {goal:?} is no task of the method library; known tasks: {known}")]
    UnknownGoal {
        /// The goal named.
        goal: String,
        /// The library's task names.
        known: String,
    },
    /// A task was given parameters it does not declare, or lacks one it does.
    #[error("task {task} {problem}")]
    Params {
        /// The task.
        task: String,
        /// What is wrong.
        problem: String,
    },
    /// No method of a compound task applies in this state.
    #[error("no method of task {task} applies: {why}")]
    NoMethod {
        /// The task's path in the decomposition.
        task: String,
        /// Each method and the precondition that failed it.
        why: String,
    },
    /// A primitive task names a worker the intent does not allow.
    #[error(
        "step {step} runs worker {worker}, which the intent does not allow (allowed: {allowed})"
    )]
    WorkerNotAllowed {
        /// The step's path.
        step: String,
        /// The worker.
        worker: String,
        /// The intent's workers.
        allowed: String,
    },
    /// A plan would hold more jobs than the intent or the planner allows.
    #[error("the plan holds {jobs} jobs, more than the {max} allowed")]
    TooManyJobs {
        /// Jobs in the plan.
        jobs: usize,
        /// The maximum.
        max: usize,
    },
    /// The decomposition grew past what the planner expands for one intent.
    #[error("the decomposition expands to more than {max} primitive steps over its candidates; split the goal into smaller intents or give its tasks fewer alternatives")]
    PlanTooLarge {
        /// The limit.
        max: usize,
    },
    /// A substituted argument grew past its limit.
    #[error("step {step}: an argument is {bytes} bytes after substitution, more than {max}")]
    ValueTooLong {
        /// The step's path.
        step: String,
        /// Its length.
        bytes: usize,
        /// The maximum.
        max: usize,
    },
}
