//! `Dag`: a plan compiled to primitive jobs, each in a *lane* (the workspace it runs in:
//! the process's own, or a sibling made for one alternative of a race), with the jobs it
//! must wait for.

use serde::{Deserialize, Serialize};

use crate::{
    model::{Effect, OnFailure, Run},
    plan::{DecomposedStep, Decomposition, Node},
};

/// The compiled plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dag {
    /// The jobs, in decomposition order; `JobNode::after` points into this list.
    pub jobs: Vec<JobNode>,
    /// The workspaces: lane 0 is the process's own; every other is a sibling made for one
    /// alternative of a race.
    pub lanes: Vec<Lane>,
}

/// A workspace the plan runs jobs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// The lane it is made in, and collapses into if it wins; none for lane 0.
    pub parent: Option<usize>,
    /// The decomposition path of the alternative it runs.
    pub path: String,
}

/// One job of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobNode {
    /// Its path in the decomposition (`goal/method/step/…`), unique in the plan.
    pub id: String,
    /// The lane it runs in.
    pub lane: usize,
    /// Jobs that must be done first, ascending.
    pub after: Vec<usize>,
    /// What it does.
    pub kind: JobKind,
    /// What the failure of the method it belongs to leads to.
    pub on_failure: OnFailure,
    /// Why it is in the plan: a step, or the verify or compensate job of one.
    #[serde(default)]
    pub purpose: Purpose,
    /// The later gate job whose failure runs this job again with its output.
    #[serde(default)]
    pub feedback: Option<Feedback>,
}

/// A gate whose failure is fed back to an earlier job of its lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Feedback {
    /// The gate job.
    pub from: usize,
    /// How many times its failure may be fed back.
    pub rounds: u32,
}

/// Why a job is in the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Purpose {
    /// A step of its method: it runs when the jobs before it are done.
    #[default]
    Step,
    /// It tells whether job `of`'s effect took place; it runs only when an attempt of
    /// `of` ended without saying so.
    Verify {
        /// The job whose effect it checks.
        of: usize,
    },
    /// It undoes job `of`'s effect; it runs only when the process unwinds.
    Compensate {
        /// The job whose effect it undoes.
        of: usize,
    },
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobKind {
    /// A job on a worker.
    Run {
        /// The worker.
        worker: String,
        /// Its arguments.
        args: Vec<String>,
        /// What its proposal may change.
        effect: Effect,
        /// Whether a crashed attempt may be retried without asking.
        idempotent: bool,
        /// Milliseconds before the worker is killed.
        timeout_ms: u64,
        /// Attempts after the first.
        retries: u32,
        /// Milliseconds before the first retry, doubling each time.
        backoff_ms: u64,
        /// A check: exit status 0 is needed for its method to succeed.
        gate: bool,
        /// Tree paths its proposal may touch; empty for the whole tree.
        paths: Vec<String>,
    },
    /// A question for a person; the process waits without holding a worker.
    Ask {
        /// The question.
        question: String,
        /// Answered by approve or reject.
        yes_no: bool,
    },
    /// The end of a race: done when the first of `lanes` has all its jobs done (that lane
    /// collapses into this job's lane; the others are discarded), failed when all failed.
    Race {
        /// The racing lanes.
        lanes: Vec<usize>,
    },
}

impl Dag {
    /// The job that verifies job `job`'s effect, if its step declares one.
    pub fn verify_of(&self, job: usize) -> Option<usize> {
        self.jobs
            .iter()
            .position(|n| n.purpose == Purpose::Verify { of: job })
    }

    /// The job that undoes job `job`'s effect, if its step declares one.
    pub fn compensation_of(&self, job: usize) -> Option<usize> {
        self.jobs
            .iter()
            .position(|n| n.purpose == Purpose::Compensate { of: job })
    }

    /// Whether every index in it points into it: what the scheduler relies on. A compiled
    /// plan always passes; a recorded one from elsewhere may not. The first problem.
    pub fn check(&self) -> Result<(), String> {
        let lanes = self.lanes.len();
        match self.lanes.first() {
            None => return Err("it has no lane".to_owned()),
            Some(first) if first.parent.is_some() => return Err("lane 0 has a parent".to_owned()),
            Some(_) => {}
        }
        for (index, lane) in self.lanes.iter().enumerate().skip(1) {
            if !lane.parent.is_some_and(|p| p < lanes && p != index) {
                return Err(format!("lane {index} has no parent lane"));
            }
        }
        for (index, job) in self.jobs.iter().enumerate() {
            if job.lane >= lanes {
                return Err(format!(
                    "job {index} runs in lane {}, which is not",
                    job.lane
                ));
            }
            if let Some(bad) = job
                .after
                .iter()
                .find(|&&a| a >= self.jobs.len() || a == index)
            {
                return Err(format!("job {index} waits for job {bad}, which is not"));
            }
            if let Purpose::Verify { of } | Purpose::Compensate { of } = job.purpose {
                let serves = self.jobs.get(of).filter(|served| {
                    of != index
                        && served.lane == job.lane
                        && served.purpose == Purpose::Step
                        && matches!(served.kind, JobKind::Run { .. })
                });
                if serves.is_none() || !matches!(job.kind, JobKind::Run { .. }) {
                    return Err(format!(
                        "job {index} serves job {of}, which is no worker's step in its lane"
                    ));
                }
            }
            if let Some(feedback) = job.feedback {
                let gate = self.jobs.get(feedback.from).filter(|gate| {
                    feedback.from != index
                        && gate.lane == job.lane
                        && matches!(gate.kind, JobKind::Run { gate: true, .. })
                });
                if gate.is_none() || !matches!(job.kind, JobKind::Run { .. }) {
                    return Err(format!(
                        "job {index} takes feedback from job {}, which is no later gate in its lane",
                        feedback.from
                    ));
                }
            }
            if let JobKind::Race { lanes: racing } = &job.kind {
                if let Some(bad) = racing.iter().find(|&&l| l == 0 || l >= lanes) {
                    return Err(format!("race job {index} races lane {bad}, which is not"));
                }
            }
        }
        Ok(())
    }

    /// Compiles a decomposition: lane 0 for the goal.
    pub(crate) fn compile(tree: &Decomposition) -> Dag {
        let mut dag = Dag {
            jobs: Vec::new(),
            lanes: vec![Lane {
                parent: None,
                path: tree.task.clone(),
            }],
        };
        dag.add(tree, 0, &tree.task, OnFailure::default());
        for job in &mut dag.jobs {
            job.after.sort_unstable();
            job.after.dedup();
        }
        dag
    }

    /// Adds the jobs of `tree` in `lane`; returns its entry jobs (those nothing inside it
    /// precedes) and its exit jobs (those nothing inside it follows).
    fn add(
        &mut self,
        tree: &Decomposition,
        lane: usize,
        path: &str,
        on_failure: OnFailure,
    ) -> (Vec<usize>, Vec<usize>) {
        let primitive = |kind: JobKind| JobNode {
            id: path.to_owned(),
            lane,
            after: Vec::new(),
            kind,
            on_failure,
            purpose: Purpose::Step,
            feedback: None,
        };
        match &tree.node {
            Node::Run(run) => {
                self.jobs.push(primitive(run_kind(run)));
                let index = self.jobs.len() - 1;
                (vec![index], vec![index])
            }
            Node::Ask(ask) => {
                self.jobs.push(primitive(JobKind::Ask {
                    question: ask.question.clone(),
                    yes_no: ask.yes_no,
                }));
                let index = self.jobs.len() - 1;
                (vec![index], vec![index])
            }
            Node::Method {
                method,
                race: true,
                on_failure,
                steps,
                ..
            } => {
                let mut entries = Vec::new();
                let mut exits = Vec::new();
                let mut lanes = Vec::new();
                for step in steps {
                    let step_path = format!("{path}/{method}/{}", step.id);
                    self.lanes.push(Lane {
                        parent: Some(lane),
                        path: step_path.clone(),
                    });
                    let alternative = self.lanes.len() - 1;
                    lanes.push(alternative);
                    let (step_entries, step_exits) =
                        self.add(&step.sub, alternative, &step_path, *on_failure);
                    self.add_sides(step, &step_entries, alternative, &step_path, *on_failure);
                    entries.extend(step_entries);
                    exits.extend(step_exits);
                }
                self.jobs.push(JobNode {
                    id: format!("{path}/{method}"),
                    lane,
                    after: exits,
                    kind: JobKind::Race { lanes },
                    on_failure: *on_failure,
                    purpose: Purpose::Step,
                    feedback: None,
                });
                let race = self.jobs.len() - 1;
                (entries, vec![race])
            }
            Node::Method {
                method,
                on_failure,
                steps,
                ..
            } => {
                let mut ends = Vec::with_capacity(steps.len());
                for step in steps {
                    let step_path = format!("{path}/{method}/{}", step.id);
                    let added = self.add(&step.sub, lane, &step_path, *on_failure);
                    self.add_sides(step, &added.0, lane, &step_path, *on_failure);
                    ends.push(added);
                }
                let mut entries = Vec::new();
                for (step, (step_entries, _)) in steps.iter().zip(&ends) {
                    if step.after.is_empty() {
                        entries.extend(step_entries);
                        continue;
                    }
                    let before: Vec<usize> = steps
                        .iter()
                        .zip(&ends)
                        .filter(|(other, _)| step.after.contains(&other.id))
                        .flat_map(|(_, (_, exits))| exits.iter().copied())
                        .collect();
                    for entry in step_entries {
                        self.jobs[*entry].after.extend(&before);
                    }
                }
                // A step fed back from a later gate: both run one job each (the library
                // allows `feedback_from` only between two steps that run workers).
                for (step, (entries, _)) in steps.iter().zip(&ends) {
                    let Some(from) = &step.feedback else { continue };
                    let gate = steps
                        .iter()
                        .zip(&ends)
                        .find(|(other, _)| other.id == from.step)
                        .map(|(_, (gate_entries, _))| gate_entries.as_slice());
                    if let ([job], Some([gate])) = (entries.as_slice(), gate) {
                        self.jobs[*job].feedback = Some(Feedback {
                            from: *gate,
                            rounds: from.rounds,
                        });
                    }
                }
                let exits = steps
                    .iter()
                    .zip(&ends)
                    .filter(|(step, _)| !steps.iter().any(|other| other.after.contains(&step.id)))
                    .flat_map(|(_, (_, exits))| exits.iter().copied())
                    .collect();
                (entries, exits)
            }
        }
    }

    /// The verify and compensate jobs of `step`, whose task is the one job `entries`
    /// holds (the library allows them only on a step whose task runs a worker).
    fn add_sides(
        &mut self,
        step: &DecomposedStep,
        entries: &[usize],
        lane: usize,
        path: &str,
        on_failure: OnFailure,
    ) {
        let [of] = entries else { return };
        let of = *of;
        let sides = [
            (&step.verify, "verify", Purpose::Verify { of }),
            (&step.compensate, "compensate", Purpose::Compensate { of }),
        ];
        for (run, what, purpose) in sides {
            if let Some(run) = run {
                self.jobs.push(JobNode {
                    id: format!("{path}#{what}"),
                    lane,
                    after: Vec::new(),
                    kind: run_kind(run),
                    on_failure,
                    purpose,
                    feedback: None,
                });
            }
        }
    }
}

/// The job of a run.
fn run_kind(run: &Run) -> JobKind {
    JobKind::Run {
        worker: run.worker.clone(),
        args: run.args.clone(),
        effect: run.effect,
        idempotent: run.idempotent,
        timeout_ms: run.timeout_secs.saturating_mul(1000),
        retries: run.retries,
        backoff_ms: run.backoff_ms,
        gate: run.gate,
        paths: run.paths.clone(),
    }
}
