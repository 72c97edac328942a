//! The scheduler loop: while a decision is due, make it — a dispatch becomes a job record
//! and a running worker, any other decision one process record — then sleep until an
//! attempt ends, a request changes something, or the earliest timer falls due.

use std::{sync::Arc, time::Duration};

use jitos_kernel::{Dispatch, Effect, FailureCause, Kernel, KernelError, KernelHandle, Owner};
use jitos_ledger::Actor;
use jitos_sched::{Capacity, Decision, JobState};
use jitos_tasks::{Effect as PlanEffect, JobKind};
use jitos_worker::EffectClass;
use tokio::sync::{watch, Notify};

use crate::jobs::{catalog_resolve, AttemptPlan, JobRunner, WorkerConfig};

/// Decisions made in one turn before the loop yields to requests and attempt ends.
const DECISIONS_PER_TURN_MAX: usize = 256;

/// The scheduler of one daemon.
pub struct Scheduler {
    kernel: KernelHandle,
    runner: Arc<JobRunner>,
    config: WorkerConfig,
    /// Workers that may run at once, over all processes.
    slots: usize,
    wake: Arc<Notify>,
}

/// What one step did.
enum Step {
    /// Nothing is due; milliseconds until the earliest timer, if any.
    Idle(Option<u64>),
    /// A decision was recorded. It may leave attempts running for nothing (to cancel) and
    /// may have ended a process (whose warm worker instances are retired).
    Recorded {
        cancel: Vec<u64>,
        finished: Option<u64>,
    },
    /// An attempt was dispatched: start its worker.
    Launch(Box<AttemptPlan>),
}

impl Scheduler {
    /// A scheduler of `slots` workers at once, woken through `wake`.
    pub fn new(
        kernel: KernelHandle,
        runner: Arc<JobRunner>,
        config: WorkerConfig,
        slots: usize,
        wake: Arc<Notify>,
    ) -> Scheduler {
        Scheduler {
            kernel,
            runner,
            config,
            slots,
            wake,
        }
    }

    /// Runs until the daemon stops.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        loop {
            let sleep = match self.turn(&stopping).await {
                Some(ms) => Duration::from_millis(ms.max(1)),
                None => Duration::from_secs(3600),
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(sleep) => {}
                _ = stopping.changed() => return,
            }
            if *stopping.borrow() {
                return;
            }
        }
    }

    /// Makes every decision that is due, until the daemon stops; milliseconds until the
    /// earliest timer after them. None is made once stopping: an attempt launched then
    /// would only be cut off, and one that is not idempotent would ask a person.
    async fn turn(&self, stopping: &watch::Receiver<bool>) -> Option<u64> {
        for _ in 0..DECISIONS_PER_TURN_MAX {
            if *stopping.borrow() {
                return None;
            }
            let capacity = Capacity {
                slots_free: self.slots.saturating_sub(self.runner.running()),
                per_process: self.slots,
            };
            let config = self.config.clone();
            let step = self
                .kernel
                .query(move |kernel| step(kernel, &config, capacity))
                .await;
            match step {
                None => return None,
                Some(Err(e)) => {
                    tracing::error!(error = %e, "a scheduler decision could not be recorded");
                    return None;
                }
                Some(Ok(Step::Idle(timer_ms))) => return timer_ms,
                Some(Ok(Step::Recorded { cancel, finished })) => {
                    for attempt in cancel {
                        self.runner.cancel_attempt(attempt, scheduler_actor());
                    }
                    if let Some(process) = finished {
                        self.runner.process_ended(process);
                    }
                }
                Some(Ok(Step::Launch(plan))) => {
                    // A launch that fails records the attempt's end itself.
                    let _ = self.runner.launch(*plan).await;
                }
            }
        }
        // More is due: come back at once, after the others have had their turn.
        self.wake.notify_one();
        None
    }
}

/// One decision, made and recorded on the kernel thread.
fn step(
    kernel: &mut Kernel,
    config: &WorkerConfig,
    capacity: Capacity,
) -> Result<Step, KernelError> {
    let now = kernel.now_ms();
    let Some(decision) = kernel.processes().decide(now, capacity) else {
        let timer = kernel.processes().next_wake_ms();
        return Ok(Step::Idle(timer.map(|at| at.saturating_sub(now))));
    };
    let actor = scheduler_actor();
    match decision {
        Decision::Dispatch { process, job, sws } => {
            dispatch(kernel, config, actor, process, job, sws)
        }
        other => {
            let finished = match &other {
                Decision::Finish { process, .. } => Some(*process),
                _ => None,
            };
            let executed = kernel.process_execute(actor, now, other)?;
            Ok(Step::Recorded {
                cancel: executed.cancel,
                finished,
            })
        }
    }
}

/// Records the dispatch of a process job and hands back what its worker needs. A worker
/// that cannot be resolved still gets its attempt recorded, and its failure right after.
fn dispatch(
    kernel: &mut Kernel,
    config: &WorkerConfig,
    actor: Actor,
    process: u64,
    job: usize,
    sws: u64,
) -> Result<Step, KernelError> {
    let Some(p) = kernel.processes().get(process) else {
        return Ok(Step::Idle(None));
    };
    let Some(node) = p
        .slaps
        .get(p.run.candidate)
        .map(|s| s.dag.jobs[job].clone())
    else {
        return Ok(Step::Idle(None));
    };
    let JobKind::Run {
        worker: name,
        args,
        effect,
        timeout_ms,
        paths,
        ..
    } = node.kind
    else {
        return Ok(Step::Idle(None));
    };
    let input = answers_of(kernel, process);
    let owner = Some(Owner { process, job });
    let resolved = catalog_resolve(config, kernel.jobs(), &name);
    let (worker_version, files) = match &resolved {
        Ok(worker) => (
            worker.manifest.version.clone(),
            // Files are in scope only if both the plan and the worker say so.
            effect == PlanEffect::Workspace
                && worker.manifest.effect_class == EffectClass::Workspace,
        ),
        Err(_) => ("unknown".to_owned(), false),
    };
    let dispatch = Dispatch {
        worker: name.clone(),
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
        owner,
    };
    let attempt = kernel.job_dispatch(actor, dispatch)?.seq;
    match resolved {
        Ok(worker) => Ok(Step::Launch(Box::new(AttemptPlan {
            attempt,
            worker,
            sws,
            args,
            input,
            deadline_ms: timeout_ms,
            files,
            process: Some(process),
        }))),
        Err(e) => {
            kernel.job_fail(Actor::System, attempt, FailureCause::Spawn, e.to_string())?;
            Ok(Step::Recorded {
                cancel: Vec::new(),
                finished: None,
            })
        }
    }
}

/// The answers a process has had so far, as the input of its next job: a JSON object
/// from each answered step's path to its value.
fn answers_of(kernel: &Kernel, process: u64) -> Vec<u8> {
    let Some(p) = kernel.processes().get(process) else {
        return Vec::new();
    };
    let Some(slap) = p.slaps.get(p.run.candidate) else {
        return Vec::new();
    };
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
    if answers.is_empty() {
        return Vec::new();
    }
    serde_json::to_vec(&serde_json::json!({ "answers": answers })).unwrap_or_default()
}

/// Who the scheduler's records are by.
fn scheduler_actor() -> Actor {
    Actor::Named("scheduler".to_owned())
}
