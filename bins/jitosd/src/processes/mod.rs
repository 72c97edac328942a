//! Processes on the daemon: submitting an intent (planned with the method library over
//! the system graph, then recorded), answering and cancelling, and the scheduler that
//! turns each due decision into a record and each dispatch into a running worker.

pub mod compare;
mod scheduler;
mod spans;
pub mod views;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use jitos_gov::Principal;
use jitos_kernel::{Command, KernelHandle, Outcome, Vote, VOTE_NOTE_BYTES_MAX};
use jitos_ledger::Actor;
use jitos_proto::{AnswerView, ErrorCode, ErrorInfo, Response};
use jitos_sched::Answer;
use jitos_tasks::{plan, Intent, Library, Slap};

use crate::{reading, reply::error, run_environment::HostProbe, writs::WritService};

pub use scheduler::{scheduler, Decider, Scheduler};

/// The method library every daemon has, compiled in.
const BUILTIN_METHODS: (&str, &str) = (
    "<builtin>/builtin.toml",
    include_str!("../../methods/builtin.toml"),
);

/// The built-in method library with `extra` sources added (as a program embedding the
/// daemon brings its own); a problem names its source and line.
pub fn load_library_with(extra: &[(PathBuf, String)]) -> Result<Library, jitos_tasks::SourceError> {
    let mut sources = vec![(
        PathBuf::from(BUILTIN_METHODS.0),
        BUILTIN_METHODS.1.to_owned(),
    )];
    sources.extend_from_slice(extra);
    Library::from_sources(&sources)
}

/// The method library: the built-in one, then every `*.toml` file in `dir` (by name), if
/// it exists; a problem names its file and line.
pub fn load_library(dir: Option<&Path>) -> Result<Library, jitos_tasks::SourceError> {
    let mut paths = Vec::new();
    if let Some(dir) = dir {
        let listing = std::fs::read_dir(dir).map_err(|e| jitos_tasks::SourceError {
            path: dir.to_owned(),
            at: None,
            message: format!("cannot list the methods directory: {e}"),
        })?;
        for entry in listing.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|ext| ext == "toml") {
                paths.push(path);
            }
        }
        paths.sort();
    }
    let sources = paths
        .into_iter()
        .map(|path| jitos_tasks::read_source(&path).map(|text| (path, text)))
        .collect::<Result<Vec<_>, jitos_tasks::SourceError>>()?;
    load_library_with(&sources)
}

use crate::jobs::JobRunner;

/// What the connections ask of processes.
pub struct ProcessService {
    kernel: KernelHandle,
    library: Arc<Library>,
    runner: Arc<JobRunner>,
    writs: Arc<WritService>,
    host: Arc<HostProbe>,
}

impl ProcessService {
    /// A service planning with `library`.
    pub fn new(
        kernel: KernelHandle,
        library: Arc<Library>,
        runner: Arc<JobRunner>,
        writs: Arc<WritService>,
        host: HostProbe,
    ) -> ProcessService {
        ProcessService {
            kernel,
            library,
            runner,
            writs,
            host: {
                let host = Arc::new(host);
                host.warm();
                host
            },
        }
    }

    /// Plans an intent and records the process, under a writ delegated from `from` or
    /// derived from the submitter's roles.
    pub async fn submit(
        &self,
        actor: Actor,
        principal: &Principal,
        text: String,
        path: String,
        from: Option<u64>,
    ) -> Response {
        let intent = match Intent::parse(&text, Path::new(&path)) {
            Ok(intent) => intent,
            Err(e) => return error(ErrorCode::BadRequest, e.to_string()),
        };
        // Planned over the latest view: the plans are recorded with the process, so what
        // it runs does not depend on when the writer takes it.
        let slaps = match self.plan_of(&intent).await {
            Ok(slaps) => slaps,
            Err(response) => return response,
        };
        let plans = slaps.len();
        let writs = Arc::clone(&self.writs);
        let asked = (principal.clone(), intent.clone());
        let writ = match reading::on_view(&self.kernel, move |view| {
            writs.for_process(view, &asked.0, &asked.1, from)
        })
        .await
        {
            Ok(Ok(writ)) => writ,
            Ok(Err(refused)) => return Response::Error(refused),
            Err(stopped) => return stopped,
        };
        let probe = Arc::clone(&self.host);
        let host = match reading::blocking(move || probe.now()).await {
            Ok(host) => host,
            Err(stopped) => return stopped,
        };
        let submit = Command::ProcessSubmit {
            intent,
            slaps,
            writ: Some(Box::new(writ)),
            host: Box::new(host),
        };
        match self.kernel.execute(actor, submit).await {
            Ok(Outcome::Submitted { record, writ }) => Response::ProcessSubmitted {
                process: record.seq,
                plans,
                writ,
            },
            Ok(other) => unexpected(&other),
            Err(e) => Response::Error(crate::answer::kernel_error_info(&e)),
        }
    }

    /// Plans an intent and explains the plans; records nothing.
    pub async fn plan(&self, text: String, path: String) -> Response {
        let intent = match Intent::parse(&text, Path::new(&path)) {
            Ok(intent) => intent,
            Err(e) => return error(ErrorCode::BadRequest, e.to_string()),
        };
        match self.plan_of(&intent).await {
            Ok(slaps) => Response::ProcessPlan {
                explain: jitos_tasks::explain(&slaps),
                plans: slaps.len(),
            },
            Err(response) => response,
        }
    }

    /// The plans for `intent` over the latest view's graph.
    async fn plan_of(&self, intent: &Intent) -> Result<Vec<Slap>, Response> {
        let library = Arc::clone(&self.library);
        let intent = intent.clone();
        reading::on_view(&self.kernel, move |view| {
            plan(&library, &intent, view.graph())
        })
        .await?
        .map_err(|e| error(ErrorCode::BadRequest, e.to_string()))
    }

    /// Records an answer to a waiting process.
    pub async fn answer(&self, actor: Actor, process: u64, answer: AnswerView) -> Response {
        let answer = match answer {
            AnswerView::Value(json) => match serde_json::from_str::<serde_json::Value>(&json) {
                Ok(_) => Answer::Value(json),
                Err(e) => {
                    return error(
                        ErrorCode::BadRequest,
                        format!("the value is not JSON ({e}); quote a string: '\"yes\"'"),
                    )
                }
            },
            AnswerView::Retry => Answer::Retry,
            AnswerView::Skip => Answer::Skip,
            AnswerView::Fail => Answer::Fail,
        };
        match self
            .kernel
            .execute(actor.clone(), Command::ProcessAnswer { process, answer })
            .await
        {
            // A fail that makes the process unwind stops what it runs.
            Ok(Outcome::Executed { record, cancel }) => {
                for attempt in cancel {
                    self.runner.cancel_attempt(attempt, actor.clone());
                }
                Response::ProcessRecorded { seq: record.seq }
            }
            Ok(other) => unexpected(&other),
            Err(e) => Response::Error(process_error_info(&self.kernel.view(), &e)),
        }
    }

    /// Records `principal`'s approval or rejection of the job `process` holds for
    /// approvals.
    pub async fn vote(
        &self,
        actor: Actor,
        principal: &Principal,
        process: u64,
        approve: bool,
        note: String,
    ) -> Response {
        if note.len() > VOTE_NOTE_BYTES_MAX {
            return error(
                ErrorCode::BadRequest,
                format!("the comment or reason is over {VOTE_NOTE_BYTES_MAX} bytes"),
            );
        }
        let Some(wait) = self.kernel.view().approval_wait(process) else {
            return error(
                ErrorCode::BadRequest,
                format!(
                    "process {process} does not wait for approvals; `jitos inspect {process}` shows what it waits for"
                ),
            );
        };
        let vote = Vote {
            process,
            job: wait.job,
            uid: principal.uid,
            user: principal.user.clone(),
            roles: principal.roles.iter().collect(),
            approve,
            note,
        };
        match self.kernel.execute(actor, Command::ProcessVote(vote)).await {
            Ok(Outcome::Recorded(record)) => Response::ProcessRecorded { seq: record.seq },
            Ok(other) => unexpected(&other),
            Err(e) => Response::Error(process_error_info(&self.kernel.view(), &e)),
        }
    }

    /// Ends a process as cancelled, and stops what it runs.
    pub async fn cancel(&self, actor: Actor, process: u64) -> Response {
        let executed = self
            .kernel
            .execute(actor.clone(), Command::ProcessCancel(process))
            .await;
        match executed {
            Ok(Outcome::Executed { record, cancel }) => {
                for attempt in cancel {
                    self.runner.cancel_attempt(attempt, actor.clone());
                }
                Response::ProcessRecorded { seq: record.seq }
            }
            Ok(other) => unexpected(&other),
            Err(e) => Response::Error(process_error_info(&self.kernel.view(), &e)),
        }
    }
}

/// A kernel answer that does not fit what was asked (a defect).
pub(crate) fn unexpected(outcome: &Outcome) -> Response {
    error(
        ErrorCode::Storage,
        format!("the kernel answered {outcome:?} to a request"),
    )
}

/// A refused process operation is a request the process's state does not allow; one
/// that names a process no longer live says how it ended, as of `view`.
fn process_error_info(view: &jitos_kernel::View, error: &jitos_kernel::KernelError) -> ErrorInfo {
    match error {
        jitos_kernel::KernelError::ProcessRefused(jitos_sched::SchedError::UnknownProcess {
            process,
        }) => match view.process(*process) {
            Ok(Some(ended)) => ErrorInfo {
                code: ErrorCode::BadRequest,
                message: format!(
                    "process {process} has ended ({}); `jitos inspect {process}` shows how",
                    views::status(&ended.status)
                ),
            },
            Ok(None) => ErrorInfo {
                code: ErrorCode::NotFound,
                message: format!("no process {process}; `jitos ps --all` lists them"),
            },
            Err(read) => crate::answer::kernel_error_info(&read),
        },
        jitos_kernel::KernelError::ProcessRefused(refusal) => ErrorInfo {
            code: ErrorCode::BadRequest,
            message: refusal.to_string(),
        },
        other => crate::answer::kernel_error_info(other),
    }
}
