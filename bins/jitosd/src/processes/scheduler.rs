//! The scheduler, in two halves. [`Decider`] runs on the kernel's writer as its follow-on:
//! after every group it makes each decision that is due — a dispatch becomes a job
//! record, any other decision one process record — in that group's synced write, so an
//! attempt's end, the decision it makes due and the next dispatch share one fsync. Once
//! the group is durable, the decider hands a dispatch to a ready warm instance itself.
//! [`Scheduler`] runs on the daemon's async threads and does the rest of what the records
//! ask: it starts the other dispatched workers, stops the attempts a decision left running
//! for nothing, and pokes the writer when a timer falls due.

use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, OnceLock,
    },
    time::Duration,
};

use jitos_kernel::{
    Command, Dispatch, Effect, FollowOn, KernelError, KernelHandle, Outcome, Owner, Request, State,
};
use jitos_ledger::Actor;
use jitos_sched::{effect_key, Capacity, Decision, JobState};
use jitos_tasks::{Effect as PlanEffect, JobKind, Purpose, MATERIALIZE};
use jitos_worker::EffectClass;
use tokio::sync::{mpsc, watch};

use super::spans::ProcessSpans;
use crate::jobs::{catalog_resolve, AttemptPlan, BuiltinPlan, JobRunner, ProcessJob, WorkerConfig};

/// What the writer's half asks of the async half, once the records are durable.
enum Due {
    /// Start the worker of a recorded attempt.
    Launch(Box<AttemptPlan>),
    /// Run a recorded attempt of the built-in job.
    Builtin(Box<BuiltinPlan>),
    /// Stop attempts a recorded decision leaves running for nothing.
    Cancel(Vec<u64>),
    /// The earliest timer of a running process changed: poke the writer then.
    WakeAt(Option<u64>),
}

/// What a command given to the writer leads to once it is recorded.
enum Then {
    Nothing,
    Launch(Box<AttemptPlan>),
    Builtin(Box<BuiltinPlan>),
    Finished(u64),
}

/// The writer's half: decides what is due from the state alone.
pub struct Decider {
    config: WorkerConfig,
    /// Workers that may run at once, over all processes.
    slots: usize,
    /// Set when the daemon stops: no decision is made then, since an attempt launched
    /// would only be cut off, and one that is not idempotent would ask a person.
    stopping: Arc<AtomicBool>,
    /// What each command given and not yet settled starts, in order.
    pending: VecDeque<Then>,
    /// The last timer told to the async half.
    wake_at: Option<u64>,
    due: mpsc::UnboundedSender<Due>,
    /// The daemon's job runner, once the async half has started: a launch the writer can
    /// make at once goes straight to it.
    runner: Arc<OnceLock<Arc<JobRunner>>>,
    submitters: Submitters,
    spans: ProcessSpans,
}

impl FollowOn for Decider {
    fn next(&mut self, state: &State, now_ms: u64) -> Option<Request> {
        if self.stopping.load(Ordering::Relaxed) {
            return None;
        }
        let running = state.jobs.running().count();
        let capacity = Capacity {
            slots_free: self.slots.saturating_sub(running),
            per_process: self.slots,
        };
        let Some(decision) = state.processes.decide(now_ms, capacity, state) else {
            // Each group ends here, so a span ends with the group that ends its process.
            self.spans.end_ended(&state.processes);
            // A timer already past waits for a change of state (a slot freed is an
            // attempt's end, which runs this again), not for a poke.
            let wake_at = state
                .processes
                .next_wake_ms(state)
                .filter(|at| *at > now_ms);
            if wake_at != self.wake_at {
                self.wake_at = wake_at;
                let _ = self.due.send(Due::WakeAt(wake_at));
            }
            return None;
        };
        let span = self.spans.of(decision.process()).clone();
        tracing::debug!(
            parent: &span,
            process = decision.process(),
            decision = decision.name(),
            "the scheduler decided"
        );
        metrics::counter!(crate::metrics::DECISIONS, "decision" => decision.name()).increment(1);
        let (command, then) = match decision {
            Decision::Dispatch { process, job, sws } => {
                self.dispatch(state, process, job, sws, span)?
            }
            decision => {
                let then = match &decision {
                    Decision::Finish { process, .. } => Then::Finished(*process),
                    _ => Then::Nothing,
                };
                (Command::ProcessExecute { now_ms, decision }, then)
            }
        };
        self.pending.push_back(then);
        Some(Request {
            actor: scheduler_actor(),
            command,
        })
    }

    fn settled(&mut self, outcome: Result<Outcome, KernelError>) {
        let then = self.pending.pop_front().unwrap_or(Then::Nothing);
        match (outcome, then) {
            (Ok(Outcome::Recorded(record)), Then::Launch(mut plan)) => {
                plan.attempt = record.seq;
                // Before the async half starts, the launch waits for it and runs in a
                // process of its own, since who submitted the process is not known yet.
                if let Some(runner) = self.runner.get() {
                    plan.submitter = plan
                        .process
                        .as_ref()
                        .and_then(|owner| self.submitters.of(runner.kernel(), owner.id));
                    match runner.launch_warm_now(plan) {
                        Ok(()) => return,
                        Err(back) => plan = back,
                    }
                }
                let _ = self.due.send(Due::Launch(plan));
            }
            (Ok(Outcome::Recorded(record)), Then::Builtin(mut plan)) => {
                plan.attempt = record.seq;
                let _ = self.due.send(Due::Builtin(plan));
            }
            (Ok(Outcome::Executed { cancel, .. }), then) => {
                if !cancel.is_empty() {
                    let _ = self.due.send(Due::Cancel(cancel));
                }
                if let Then::Finished(process) = then {
                    self.submitters.forget(process);
                }
            }
            (Ok(_), _) => {}
            (Err(error), _) => {
                tracing::error!(%error, "a scheduler decision could not be recorded");
            }
        }
    }
}

impl Decider {
    /// The dispatch of a process job, with what its worker needs once it is recorded;
    /// a worker that cannot be resolved gets its attempt recorded with its failure. `span`
    /// is the process's.
    fn dispatch(
        &self,
        state: &State,
        process: u64,
        job: usize,
        sws: u64,
        span: tracing::Span,
    ) -> Option<(Command, Then)> {
        let p = state.processes.get(process)?;
        let node = p.slaps.get(p.run.candidate)?.dag.jobs.get(job)?.clone();
        let owner = ProcessJob {
            id: process,
            job: node.id.clone(),
            span,
        };
        // The key of the effect the job makes, checks or undoes.
        let key = match node.purpose {
            Purpose::Step if state.job_effect(&node) >= jitos_gov::Effect::Local => {
                Some(effect_key(process, p.run.candidate, job))
            }
            Purpose::Step => None,
            Purpose::Verify { of } | Purpose::Compensate { of } => {
                Some(effect_key(process, p.run.candidate, of))
            }
        };
        if let JobKind::Run {
            worker,
            args,
            timeout_ms,
            paths,
            ..
        } = &node.kind
        {
            if worker == MATERIALIZE {
                let dispatch = Dispatch {
                    worker: worker.clone(),
                    worker_version: env!("CARGO_PKG_VERSION").to_owned(),
                    sws,
                    args: args.clone(),
                    input: Vec::new(),
                    deadline_ms: *timeout_ms,
                    effect: Effect::GraphOnly,
                    paths: paths.clone(),
                    owner: Some(Owner { process, job }),
                };
                let plan = BuiltinPlan {
                    attempt: 0,
                    process: owner,
                    sws,
                    args: args.clone(),
                    paths: paths.clone(),
                    // Always set: the built-in's effect is local.
                    key: key
                        .clone()
                        .unwrap_or_else(|| effect_key(process, p.run.candidate, job)),
                };
                return Some((
                    Command::JobDispatch(dispatch),
                    Then::Builtin(Box::new(plan)),
                ));
            }
        }
        let JobKind::Run {
            worker: name,
            args,
            effect,
            timeout_ms,
            paths,
            ..
        } = node.kind
        else {
            return None;
        };
        let input = input_of(state, process, job);
        let resolved = catalog_resolve(&self.config, &state.jobs, &name);
        let (worker_version, files) = match &resolved {
            Ok(worker) => (
                worker.manifest.version.clone(),
                // Files are in scope only if both the plan and the worker say so.
                effect >= PlanEffect::Workspace
                    && worker.manifest.effect_class >= EffectClass::Workspace,
            ),
            Err(_) => ("unknown".to_owned(), false),
        };
        let dispatch = Dispatch {
            worker: name,
            worker_version,
            sws,
            args: args.clone(),
            input: input.clone(),
            deadline_ms: timeout_ms,
            effect: if files {
                Effect::Files
            } else {
                Effect::GraphOnly
            },
            paths,
            owner: Some(Owner { process, job }),
        };
        Some(match resolved {
            Ok(worker) => (
                Command::JobDispatch(dispatch),
                Then::Launch(Box::new(AttemptPlan {
                    // The dispatch record's seq, once it has one.
                    attempt: 0,
                    worker,
                    sws,
                    args,
                    input,
                    deadline_ms: timeout_ms,
                    files,
                    process: Some(owner),
                    // Who submitted it is read once the dispatch is recorded (`settled`).
                    submitter: None,
                    // Read at launch, from the process's writ.
                    secrets: Vec::new(),
                    effect_key: key,
                })),
            ),
            Err(e) => (
                Command::JobUnstartable {
                    dispatch,
                    detail: e.to_string(),
                },
                Then::Nothing,
            ),
        })
    }
}

/// The async half of one daemon's scheduler.
pub struct Scheduler {
    kernel: KernelHandle,
    runner: Arc<JobRunner>,
    due: mpsc::UnboundedReceiver<Due>,
}

/// Both halves of a scheduler of `slots` workers at once; the decider is the writer's
/// follow-on, the scheduler runs once the kernel does.
pub fn scheduler(
    config: WorkerConfig,
    slots: usize,
    stopping: Arc<AtomicBool>,
) -> (
    Decider,
    impl FnOnce(KernelHandle, Arc<JobRunner>) -> Scheduler,
) {
    let (sender, due) = mpsc::unbounded_channel();
    let shared_runner = Arc::new(OnceLock::new());
    let decider = Decider {
        config,
        slots,
        stopping,
        pending: VecDeque::new(),
        wake_at: None,
        due: sender,
        runner: Arc::clone(&shared_runner),
        submitters: Submitters::default(),
        spans: ProcessSpans::default(),
    };
    let start = move |kernel, runner: Arc<JobRunner>| {
        // Set once: this closure runs once.
        let _ = shared_runner.set(Arc::clone(&runner));
        Scheduler {
            kernel,
            runner,
            due,
        }
    };
    (decider, start)
}

impl Scheduler {
    /// Runs until the daemon stops.
    pub async fn run(mut self, mut stopping: watch::Receiver<bool>) {
        // What the previous daemon left due is decided at once.
        if self.kernel.turn().await.is_err() {
            return;
        }
        let mut wake_at = None;
        loop {
            let sleep = match wake_at {
                Some(at) => Duration::from_millis(
                    u64::saturating_sub(at, self.kernel.view().now_ms()).max(1),
                ),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                due = self.due.recv() => match due {
                    Some(Due::Launch(plan)) => {
                        // A launch that fails records the attempt's end itself.
                        let _ = self.runner.launch(*plan).await;
                    }
                    Some(Due::Builtin(plan)) => {
                        let runner = Arc::clone(&self.runner);
                        tokio::spawn(async move { runner.run_builtin(*plan).await });
                    }
                    Some(Due::Cancel(attempts)) => {
                        for attempt in attempts {
                            self.runner.cancel_attempt(attempt, scheduler_actor());
                        }
                    }
                    Some(Due::WakeAt(at)) => wake_at = at,
                    None => return,
                },
                () = tokio::time::sleep(sleep) => {
                    if wake_at.is_some() && self.kernel.turn().await.is_err() {
                        return;
                    }
                }
                _ = stopping.changed() => return,
            }
            if *stopping.borrow() {
                return;
            }
        }
    }
}

/// Who submitted each running process, as its submit record says: the local user whose
/// warm worker instances may run its jobs.
struct Submitters {
    by_process: HashMap<u64, Option<u32>>,
    /// How many may be remembered before those no longer running are let go (a process
    /// ended by an answer or a cancel is not announced as finished): at least
    /// `REMEMBERED_MIN`, and twice what is left after letting go, so each let-go pays for
    /// itself.
    prune_at: usize,
}

impl Default for Submitters {
    fn default() -> Submitters {
        Submitters {
            by_process: HashMap::new(),
            prune_at: Submitters::REMEMBERED_MIN,
        }
    }
}

impl Submitters {
    const REMEMBERED_MIN: usize = 4096;

    /// The uid of the local user who submitted `process`; none if a user did not, or its
    /// submit record cannot be read (its jobs then run in processes of their own).
    fn of(&mut self, kernel: &KernelHandle, process: u64) -> Option<u32> {
        if let Some(known) = self.by_process.get(&process) {
            return *known;
        }
        let view = kernel.view();
        if self.by_process.len() >= self.prune_at {
            self.by_process
                .retain(|id, _| view.processes().get(*id).is_some());
            self.prune_at = (self.by_process.len() * 2).max(Submitters::REMEMBERED_MIN);
        }
        // A process's id is the seq of its submit record.
        let submitter = match crate::jobs::user_of_record(&view, process) {
            Ok(user) => user,
            Err(error) => {
                tracing::warn!(process, %error, "cannot read who submitted a process");
                None
            }
        };
        self.by_process.insert(process, submitter);
        submitter
    }

    fn forget(&mut self, process: u64) {
        self.by_process.remove(&process);
    }
}

/// The answers a process has had so far, as the input of its next job: a JSON object
/// from each answered step's path to its value.
fn input_of(state: &State, process: u64, job: usize) -> Vec<u8> {
    let Some(p) = state.processes.get(process) else {
        return Vec::new();
    };
    let Some(slap) = p.slaps.get(p.run.candidate) else {
        return Vec::new();
    };
    // The gate attempt whose failure this job is given; the runner puts its output in
    // (`jobs::feedback`), so the record names it and does not copy it.
    let feedback = p.run.fed.get(job).copied().flatten().map(|attempt| {
        serde_json::json!({
            "attempt": attempt,
            "round": p.run.rounds.get(job).copied().unwrap_or(0),
        })
    });
    let answers: serde_json::Map<String, serde_json::Value> = slap
        .dag
        .jobs
        .iter()
        .zip(&p.run.jobs)
        .filter_map(|(node, state)| match state {
            JobState::Done { value: Some(value) } => {
                let value = serde_json::from_str(value)
                    .unwrap_or_else(|_| serde_json::Value::String(value.clone()));
                Some((node.id.clone(), value))
            }
            _ => None,
        })
        .collect();
    let mut input = serde_json::Map::new();
    if !answers.is_empty() {
        input.insert("answers".to_owned(), answers.into());
    }
    if let Some(feedback) = feedback {
        input.insert("feedback".to_owned(), feedback);
    }
    if input.is_empty() {
        return Vec::new();
    }
    serde_json::to_vec(&input).unwrap_or_default()
}

/// Who the scheduler's records are by.
fn scheduler_actor() -> Actor {
    Actor::Named("scheduler".to_owned())
}
