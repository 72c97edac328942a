//! The scheduler's one rule: given the folded state and the time, the next decision, in a
//! fixed order (processes oldest first; within one: its wall time, its workspaces, its
//! races, its failures, its retries, its runnable jobs, its end). The kernel records each
//! decision and asks again, so a recorded run can be checked decision by decision.

use serde::{Deserialize, Serialize};

use jitos_tasks::{Dag, JobKind, OnFailure};

use crate::{
    event::{Event, Outcome},
    process::{JobState, LaneState, Process, Status, WaitReason},
    processes::expected_answer,
    Grants, Processes,
};

/// Longest wait between two attempts of a job, however many retries it has had.
pub const BACKOFF_MS_MAX: u64 = 10 * 60 * 1000;

/// What the scheduler may use now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// Workers that may start now, over all processes.
    pub slots_free: usize,
    /// Attempts one process may have running at once.
    pub per_process: usize,
}

/// Where a lane's workspace is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Base {
    /// Over the system's head (lane 0).
    System,
    /// Nested in this workspace (the parent lane's), so its collapse lands there.
    Workspace(u64),
}

/// One decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Decision {
    /// Make a lane's workspace.
    OpenLane {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
        /// Where.
        base: Base,
    },
    /// Dispatch an attempt of a job to its worker.
    Dispatch {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// The workspace its proposal goes into.
        sws: u64,
    },
    /// Wait before the next attempt of a failed job.
    ScheduleRetry {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
        /// When the attempt may start (ms).
        until_ms: u64,
    },
    /// Have the policy rule on a job before it runs or is asked (allow, deny, or hold it
    /// for approvals).
    Rule {
        /// The process.
        process: u64,
        /// The job.
        job: usize,
    },
    /// Ask a person and wait.
    Ask {
        /// The process.
        process: u64,
        /// The job the answer is for.
        job: usize,
        /// The question.
        question: String,
        /// Why.
        reason: WaitReason,
    },
    /// Collapse a lane's workspace into its parent's, or lane 0's into the system.
    CollapseLane {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
        /// Its workspace.
        sws: u64,
    },
    /// Discard a lane's workspace; its running attempts are cancelled.
    DiscardLane {
        /// The process.
        process: u64,
        /// The lane.
        lane: usize,
        /// Its workspace.
        sws: u64,
        /// Why, kept with the discard.
        reason: String,
    },
    /// Abandon the candidate for the next one.
    Advance {
        /// The process.
        process: u64,
        /// The next candidate.
        to: usize,
        /// Why.
        why: String,
    },
    /// End the process.
    Finish {
        /// The process.
        process: u64,
        /// How.
        outcome: Outcome,
    },
}

impl Decision {
    /// Whether `event` is what this decision records (a dispatch is recorded as a job
    /// record, so no process event is).
    pub fn explains(&self, event: &Event) -> bool {
        match (self, event) {
            (
                Decision::OpenLane { process, lane, .. },
                Event::LaneOpened {
                    process: p,
                    lane: l,
                    ..
                },
            )
            | (
                Decision::CollapseLane { process, lane, .. },
                Event::LaneCollapsed {
                    process: p,
                    lane: l,
                }
                | Event::LaneConflict {
                    process: p,
                    lane: l,
                    ..
                },
            )
            | (
                Decision::DiscardLane { process, lane, .. },
                Event::LaneDiscarded {
                    process: p,
                    lane: l,
                },
            ) => process == p && lane == l,
            (
                Decision::ScheduleRetry {
                    process,
                    job,
                    until_ms,
                },
                Event::RetryScheduled {
                    process: p,
                    job: j,
                    until_ms: u,
                },
            ) => (process, job, until_ms) == (p, j, u),
            (
                Decision::Ask {
                    process,
                    job,
                    question,
                    reason,
                },
                Event::Asked {
                    process: p,
                    job: j,
                    question: q,
                    reason: r,
                },
            ) => (process, job, question, reason) == (p, j, q, r),
            (
                Decision::Rule { process, job },
                Event::Ruled {
                    process: p, job: j, ..
                },
            ) => (process, job) == (p, j),
            (
                Decision::Advance { process, to, why },
                Event::Advanced {
                    process: p,
                    to: t,
                    why: w,
                },
            ) => (process, to, why) == (p, t, w),
            (
                Decision::Finish { process, outcome },
                Event::Finished {
                    process: p,
                    outcome: o,
                },
            ) => (process, outcome) == (p, o),
            _ => false,
        }
    }
}

impl Event {
    /// Whether the scheduler decides this event (rather than a person or a worker).
    pub fn is_decision(&self) -> bool {
        match self {
            Event::Submitted { .. }
            | Event::Answered { .. }
            | Event::Voted { .. }
            | Event::Dispatched { .. }
            | Event::AttemptEnded { .. } => false,
            Event::Finished { outcome, .. } => *outcome != Outcome::Cancelled,
            _ => true,
        }
    }
}

impl Processes {
    /// The next decision at `now_ms` within `capacity` and the processes' `grants`, if
    /// any is due.
    pub fn decide(
        &self,
        now_ms: u64,
        capacity: Capacity,
        grants: &impl Grants,
    ) -> Option<Decision> {
        self.all().find_map(|p| match p.status {
            Status::Running => decide_for(p, now_ms, capacity, grants),
            // A process waiting for a person ends too when its authority does.
            Status::Waiting { .. } => grants.stops(p.id, now_ms).map(|why| end_with(p, why)),
            _ => None,
        })
    }

    /// When a decision may next fall due with nothing else happening: the earliest retry
    /// timer, wall-time limit or end of authority of a running process, or end of
    /// authority of a waiting one.
    pub fn next_wake_ms(&self, grants: &impl Grants) -> Option<u64> {
        let waiting = self
            .all()
            .filter(|p| matches!(p.status, Status::Waiting { .. }))
            .filter_map(|p| grants.ends_at_ms(p.id));
        self.all()
            .filter(|p| p.status == Status::Running)
            .flat_map(|p| {
                let wall = p
                    .submitted_ms
                    .saturating_add(p.intent.wall_secs.saturating_mul(1000))
                    .min(grants.ends_at_ms(p.id).unwrap_or(u64::MAX));
                let timers = p.run.jobs.iter().filter_map(|j| match j {
                    JobState::Waiting { until_ms, .. } => Some(*until_ms),
                    _ => None,
                });
                std::iter::once(wall).chain(timers)
            })
            .chain(waiting)
            .min()
    }
}

fn decide_for(
    p: &Process,
    now_ms: u64,
    capacity: Capacity,
    grants: &impl Grants,
) -> Option<Decision> {
    let id = p.id;
    let dag = &p.slaps.get(p.run.candidate)?.dag;
    let jobs = &p.run.jobs;
    let lanes = &p.run.lanes;
    let wall_ms = p.intent.wall_secs.saturating_mul(1000);
    if now_ms >= p.submitted_ms.saturating_add(wall_ms) {
        return Some(end_with(
            p,
            format!("it ran past its wall time of {} s", p.intent.wall_secs),
        ));
    }
    if let Some(why) = grants.stops(id, now_ms) {
        return Some(end_with(p, why));
    }
    if lanes.first() == Some(&LaneState::Unopened) {
        return Some(Decision::OpenLane {
            process: id,
            lane: 0,
            base: Base::System,
        });
    }
    // Races: the first lane whose jobs are all done wins; the rest are discarded.
    for (race, node) in dag.jobs.iter().enumerate() {
        let JobKind::Race { lanes: racing } = &node.kind else {
            continue;
        };
        if jobs[race] == (JobState::Done { value: None }) {
            if let Some((lane, sws)) = open_lanes(lanes, racing).next() {
                return Some(Decision::DiscardLane {
                    process: id,
                    lane,
                    sws,
                    reason: format!("lost the race of {}", node.id),
                });
            }
            continue;
        }
        if jobs[race].is_over() {
            continue;
        }
        if let Some(&winner) = racing
            .iter()
            .find(|&&lane| lane_won(dag, jobs, lanes, lane))
        {
            let sws = lanes[winner].sws()?;
            return Some(Decision::CollapseLane {
                process: id,
                lane: winner,
                sws,
            });
        }
    }
    // A failure in lane 0 is a failure of the candidate; in a race lane, only of the lane.
    if let Some(failed) = (0..dag.jobs.len()).find(|&j| failed_in_lane0(dag, jobs, lanes, j)) {
        return Some(on_method_failure(p, dag, failed));
    }
    for (job, state) in jobs.iter().enumerate() {
        if let JobState::RetryDue { tries } = state {
            let JobKind::Run { backoff_ms, .. } = &dag.jobs[job].kind else {
                continue;
            };
            let doublings = tries.saturating_sub(1).min(20);
            let wait = backoff_ms
                .saturating_mul(1 << doublings)
                .min(BACKOFF_MS_MAX);
            return Some(Decision::ScheduleRetry {
                process: id,
                job,
                until_ms: now_ms.saturating_add(wait),
            });
        }
    }
    let running = p.running_attempts().len();
    for (job, node) in dag.jobs.iter().enumerate() {
        let ready = match &jobs[job] {
            JobState::Pending => true,
            JobState::Waiting { until_ms, .. } => *until_ms <= now_ms,
            _ => false,
        };
        if !ready
            || !node
                .after
                .iter()
                .all(|&a| matches!(jobs[a], JobState::Done { .. }))
        {
            continue;
        }
        let sws = match lanes[node.lane] {
            LaneState::Open { sws } => sws,
            LaneState::Unopened => {
                let parent = dag.lanes[node.lane].parent?;
                let LaneState::Open { sws: parent_sws } = lanes[parent] else {
                    continue;
                };
                return Some(Decision::OpenLane {
                    process: id,
                    lane: node.lane,
                    base: Base::Workspace(parent_sws),
                });
            }
            _ => continue,
        };
        let ruled = !grants.policy_in_force() || p.run.allowed[job];
        match &node.kind {
            JobKind::Ask { yes_no: true, .. } if !ruled => {
                return Some(Decision::Rule { process: id, job });
            }
            JobKind::Ask { question, yes_no } => {
                return Some(Decision::Ask {
                    process: id,
                    job,
                    question: question.clone(),
                    reason: if *yes_no {
                        WaitReason::Approval
                    } else {
                        WaitReason::Ask
                    },
                })
            }
            JobKind::Run { .. } => {
                if p.attempts >= p.intent.max_jobs {
                    return Some(end_with(
                        p,
                        format!(
                            "it used its {} jobs without reaching its goal",
                            p.intent.max_jobs
                        ),
                    ));
                }
                // Before the ruling, so no one is asked to approve what the writ refuses;
                // before the slots, so the decision does not depend on how many there are.
                if let Some(why) = grants.refuses(id, node, now_ms) {
                    return Some(end_with(p, format!("{} may not run: {why}", node.id)));
                }
                if !ruled {
                    return Some(Decision::Rule { process: id, job });
                }
                let parallel = capacity.per_process.min(p.intent.parallel);
                if capacity.slots_free == 0 || running >= parallel {
                    continue;
                }
                return Some(Decision::Dispatch {
                    process: id,
                    job,
                    sws,
                });
            }
            JobKind::Race { .. } => {}
        }
    }
    if lane_done(dag, jobs, 0) {
        return Some(match lanes[0] {
            LaneState::Open { sws } => Decision::CollapseLane {
                process: id,
                lane: 0,
                sws,
            },
            _ => Decision::Finish {
                process: id,
                outcome: Outcome::Done,
            },
        });
    }
    None
}

/// The open lanes among `racing`.
fn open_lanes<'a>(
    lanes: &'a [LaneState],
    racing: &'a [usize],
) -> impl Iterator<Item = (usize, u64)> + 'a {
    racing.iter().filter_map(|&lane| match lanes[lane] {
        LaneState::Open { sws } => Some((lane, sws)),
        _ => None,
    })
}

fn lane_done(dag: &Dag, jobs: &[JobState], lane: usize) -> bool {
    dag.jobs
        .iter()
        .enumerate()
        .filter(|(_, node)| node.lane == lane)
        .all(|(job, _)| matches!(jobs[job], JobState::Done { .. }))
}

/// A lane won its race: open, and every job in it (nested races included) done.
fn lane_won(dag: &Dag, jobs: &[JobState], lanes: &[LaneState], lane: usize) -> bool {
    matches!(lanes[lane], LaneState::Open { .. }) && lane_done(dag, jobs, lane)
}

/// A lane lost: a job in it failed, or it is gone.
fn lane_lost(dag: &Dag, jobs: &[JobState], lanes: &[LaneState], lane: usize) -> bool {
    matches!(lanes[lane], LaneState::Discarded { .. })
        || dag
            .jobs
            .iter()
            .enumerate()
            .any(|(job, node)| node.lane == lane && lane_failure(dag, jobs, lanes, job))
}

/// Whether `job` has failed: it failed itself, or it is a race all of whose lanes lost.
fn lane_failure(dag: &Dag, jobs: &[JobState], lanes: &[LaneState], job: usize) -> bool {
    match (&jobs[job], &dag.jobs[job].kind) {
        (JobState::Failed { .. }, _) => true,
        (state, JobKind::Race { lanes: racing }) if !state.is_over() => {
            racing.iter().all(|&lane| lane_lost(dag, jobs, lanes, lane))
        }
        _ => false,
    }
}

fn failed_in_lane0(dag: &Dag, jobs: &[JobState], lanes: &[LaneState], job: usize) -> bool {
    dag.jobs[job].lane == 0 && lane_failure(dag, jobs, lanes, job)
}

fn why_failed(dag: &Dag, jobs: &[JobState], job: usize) -> String {
    match &jobs[job] {
        JobState::Failed { why } => format!("{} failed: {why}", dag.jobs[job].id),
        _ => format!("every alternative of {} failed", dag.jobs[job].id),
    }
}

/// What a failed job in lane 0 leads to, by its method's policy: a question, the next
/// candidate, or the end (moving on or ending discards the open lanes).
fn on_method_failure(p: &Process, dag: &Dag, job: usize) -> Decision {
    let why = why_failed(dag, &p.run.jobs, job);
    let policy = dag.jobs[job].on_failure;
    if policy == OnFailure::Interrupt && matches!(p.run.jobs[job], JobState::Failed { .. }) {
        return Decision::Ask {
            process: p.id,
            job,
            question: format!("{why}. Answer {}", expected_answer(WaitReason::Failure)),
            reason: WaitReason::Failure,
        };
    }
    let next = p.run.candidate + 1;
    if policy == OnFailure::Next && next < p.slaps.len() {
        return Decision::Advance {
            process: p.id,
            to: next,
            why,
        };
    }
    Decision::Finish {
        process: p.id,
        outcome: Outcome::Failed { why },
    }
}

/// The decision that ends a process as failed with `why` (its open lanes are discarded
/// with it).
fn end_with(p: &Process, why: String) -> Decision {
    Decision::Finish {
        process: p.id,
        outcome: Outcome::Failed { why },
    }
}
