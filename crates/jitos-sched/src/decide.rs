//! The scheduler's one rule: given the folded state and the time, the next decision, in a
//! fixed order (processes oldest first; within one: its wall time, its workspaces, its
//! races, its failures, its retries, its runnable jobs, its end). The kernel records each
//! decision and asks again, so a recorded run can be checked decision by decision.

use serde::{Deserialize, Serialize};

use jitos_tasks::{Dag, JobKind, OnFailure, Purpose};

use crate::{
    event::{Event, Outcome},
    process::{EffectState, JobState, LaneState, Process, Run, Status, Then, WaitReason},
    processes::expected_answer,
    Grants, Processes, Refusal,
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
    /// Compensate the effects that took place before ending or moving on: what `Finish`
    /// (failed or cancelled) and `Advance` become while an effect is owed its undoing.
    Unwind {
        /// The process.
        process: u64,
        /// What it does once they are compensated.
        then: Then,
        /// Why.
        why: String,
    },
}

impl Decision {
    /// The process it is for.
    pub fn process(&self) -> u64 {
        match self {
            Decision::OpenLane { process, .. }
            | Decision::Dispatch { process, .. }
            | Decision::ScheduleRetry { process, .. }
            | Decision::Rule { process, .. }
            | Decision::Ask { process, .. }
            | Decision::CollapseLane { process, .. }
            | Decision::DiscardLane { process, .. }
            | Decision::Advance { process, .. }
            | Decision::Finish { process, .. }
            | Decision::Unwind { process, .. } => *process,
        }
    }

    /// What it does, in a word, for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Decision::OpenLane { .. } => "open_lane",
            Decision::Dispatch { .. } => "dispatch",
            Decision::ScheduleRetry { .. } => "schedule_retry",
            Decision::Rule { .. } => "rule",
            Decision::Ask { .. } => "ask",
            Decision::CollapseLane { .. } => "collapse_lane",
            Decision::DiscardLane { .. } => "discard_lane",
            Decision::Advance { .. } => "advance",
            Decision::Finish { .. } => "finish",
            Decision::Unwind { .. } => "unwind",
        }
    }

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
            (
                Decision::Unwind { process, then, why },
                Event::Unwinding {
                    process: p,
                    then: t,
                    why: w,
                },
            ) => (process, then, why) == (p, t, w),
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
            | Event::AttemptEnded { .. }
            | Event::EffectBegun { .. }
            | Event::EffectEnded { .. } => false,
            Event::Finished { outcome, .. } => *outcome != Outcome::Cancelled,
            Event::Unwinding { then, .. } => *then != Then::Finish(Outcome::Cancelled),
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
            // A process waiting for a person ends too when its authority does, unless it
            // waits while unwinding: what it owes the world comes first.
            Status::Waiting { .. } if p.run.unwinding.is_none() => grants
                .stops(p.id, now_ms)
                .map(|why| settle(p, end_with(p, why))),
            _ => None,
        })
    }

    /// What a person's cancel of process `id` records: the end, or, while an effect that
    /// took place is owed its compensation, the unwinding that comes first. A process
    /// already unwinding ends at once.
    pub fn cancel_decision(&self, id: u64) -> Decision {
        let end = Decision::Finish {
            process: id,
            outcome: Outcome::Cancelled,
        };
        match self.get(id) {
            Some(p) if p.run.unwinding.is_none() => settle(p, end),
            _ => end,
        }
    }

    /// When a decision may next fall due with nothing else happening: the earliest retry
    /// timer, wall-time limit or end of authority of a running process, or end of
    /// authority of a waiting one (an unwinding process's wall time and authority are
    /// past caring).
    pub fn next_wake_ms(&self, grants: &impl Grants) -> Option<u64> {
        // An unwinding process outlasts its wall time and its writ: only its timers wake.
        let waiting = self
            .all()
            .filter(|p| matches!(p.status, Status::Waiting { .. }) && p.run.unwinding.is_none())
            .filter_map(|p| grants.ends_at_ms(p.id));
        self.all()
            .filter(|p| p.status == Status::Running)
            .flat_map(|p| {
                let wall = match p.run.unwinding {
                    Some(_) => None,
                    None => Some(
                        p.submitted_ms
                            .saturating_add(p.intent.wall_secs.saturating_mul(1000))
                            .min(grants.ends_at_ms(p.id).unwrap_or(u64::MAX)),
                    ),
                };
                let timers = p.run.jobs.iter().filter_map(|j| match j {
                    JobState::Waiting { until_ms, .. } => Some(*until_ms),
                    _ => None,
                });
                wall.into_iter().chain(timers)
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
    // Unwinding outlasts the wall time and the writ: it is what the process owes.
    if let Some(then) = &p.run.unwinding {
        return unwind_next(p, dag, then, now_ms, capacity);
    }
    let wall_ms = p.intent.wall_secs.saturating_mul(1000);
    if now_ms >= p.submitted_ms.saturating_add(wall_ms) {
        return Some(settle(
            p,
            end_with(
                p,
                format!("it ran past its wall time of {} s", p.intent.wall_secs),
            ),
        ));
    }
    if let Some(why) = grants.stops(id, now_ms) {
        return Some(settle(p, end_with(p, why)));
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
    // An effect not known to have taken place is settled before anything depends on it.
    if let Some(decision) = jobs
        .iter()
        .enumerate()
        .find_map(|(job, state)| match state {
            JobState::Unsure { why, .. } => resolve_unsure(p, dag, job, why, capacity),
            _ => None,
        })
    {
        return Some(decision);
    }
    // A failure in lane 0 is a failure of the candidate; in a race lane, only of the lane.
    if let Some(failed) = (0..dag.jobs.len()).find(|&j| failed_in_lane0(dag, jobs, lanes, j)) {
        return Some(settle(p, on_method_failure(p, dag, failed)));
    }
    for (job, state) in jobs.iter().enumerate() {
        if let JobState::RetryDue { tries } = state {
            if !matches!(dag.jobs[job].kind, JobKind::Run { .. }) {
                continue;
            }
            return Some(Decision::ScheduleRetry {
                process: id,
                job,
                until_ms: now_ms.saturating_add(backoff(&dag.jobs[job], *tries)),
            });
        }
    }
    let running = p.running_attempts().len();
    for (job, node) in dag.jobs.iter().enumerate() {
        if node.purpose != Purpose::Step {
            continue;
        }
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
                    return Some(settle(
                        p,
                        end_with(
                            p,
                            format!(
                                "it used its {} jobs without reaching its goal",
                                p.intent.max_jobs
                            ),
                        ),
                    ));
                }
                // Before the ruling, so no one is asked to approve what the writ refuses;
                // before the slots, so the decision does not depend on how many there are.
                match grants.refuses(id, node, now_ms) {
                    Some(Refusal::Ends(why)) => {
                        return Some(settle(
                            p,
                            end_with(p, format!("{} may not run: {why}", node.id)),
                        ))
                    }
                    // A budget reached mid-process waits for a person to raise it.
                    Some(Refusal::Waits(why)) => {
                        return Some(Decision::Ask {
                            process: id,
                            job,
                            question: format!(
                                "{} may not run: {why}. An admin may raise the budget (jitos writ raise) and answer retry; or answer fail, or cancel",
                                node.id
                            ),
                            reason: WaitReason::Failure,
                        })
                    }
                    None => {}
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

/// Whether every step of `lane` is done (its verify and compensate jobs run only when
/// needed, so they do not count).
fn lane_done(dag: &Dag, jobs: &[JobState], lane: usize) -> bool {
    dag.jobs
        .iter()
        .enumerate()
        .filter(|(_, node)| node.lane == lane && node.purpose == Purpose::Step)
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
    // A failed verify or compensate job asks a person; it fails no lane.
    if dag.jobs[job].purpose != Purpose::Step {
        return false;
    }
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

/// `decision` as it must be taken: a failed or cancelled end, or a move to the next
/// candidate, becomes an unwinding while an effect is owed its compensation (one that took
/// place, or one not known either way, whose job has a compensate job not yet done).
fn settle(p: &Process, decision: Decision) -> Decision {
    let (then, why) = match &decision {
        Decision::Finish {
            outcome: outcome @ (Outcome::Failed { .. } | Outcome::Cancelled),
            ..
        } => (Then::Finish(outcome.clone()), outcome.to_string()),
        Decision::Advance { to, why, .. } => (
            Then::Advance {
                to: *to,
                why: why.clone(),
            },
            why.clone(),
        ),
        _ => return decision,
    };
    let Some(dag) = p.slaps.get(p.run.candidate).map(|slap| &slap.dag) else {
        return decision;
    };
    if !owes_compensation(&p.run, dag) {
        return decision;
    }
    Decision::Unwind {
        process: p.id,
        then,
        why,
    }
}

/// The next step of an unwinding process: each effect that took place (newest first)
/// compensated, one at a time, an effect not known either way settled first; then `then`.
fn unwind_next(
    p: &Process,
    dag: &Dag,
    then: &Then,
    now_ms: u64,
    capacity: Capacity,
) -> Option<Decision> {
    // Its attempts were cancelled when it began to unwind; their ends come first.
    if !p.running_attempts().is_empty() {
        return None;
    }
    for mark in p.run.effects.iter().rev() {
        let Some(compensate) = dag.compensation_of(mark.job) else {
            continue;
        };
        if mark.state == EffectState::Begun {
            if let JobState::Unsure { why, .. } = &p.run.jobs[mark.job] {
                return resolve_unsure(p, dag, mark.job, why, capacity);
            }
            continue;
        }
        let node = &dag.jobs[compensate];
        if !matches!(p.run.lanes[node.lane], LaneState::Open { .. }) {
            continue;
        }
        match &p.run.jobs[compensate] {
            JobState::Done { .. } | JobState::Cancelled => continue,
            JobState::Pending => return dispatch_side(p, compensate, capacity),
            JobState::Waiting { until_ms, .. } if *until_ms <= now_ms => {
                return dispatch_side(p, compensate, capacity)
            }
            JobState::RetryDue { tries } => {
                return Some(Decision::ScheduleRetry {
                    process: p.id,
                    job: compensate,
                    until_ms: now_ms.saturating_add(backoff(node, *tries)),
                })
            }
            JobState::Failed { why } => {
                return Some(Decision::Ask {
                    process: p.id,
                    job: compensate,
                    question: format!(
                        "{} failed: {why}. The effect of {} stays in place until it is undone. Answer {}",
                        node.id,
                        dag.jobs[mark.job].id,
                        expected_answer(WaitReason::Failure)
                    ),
                    reason: WaitReason::Failure,
                })
            }
            _ => return None,
        }
    }
    Some(match then {
        Then::Finish(outcome) => Decision::Finish {
            process: p.id,
            outcome: outcome.clone(),
        },
        Then::Advance { to, why } => Decision::Advance {
            process: p.id,
            to: *to,
            why: why.clone(),
        },
    })
}

/// What settles job `job`, whose attempt ended without saying whether its effect took
/// place: its verify job, or else (or if that failed too) a person's answer. None while
/// its verify job runs or waits for a slot.
fn resolve_unsure(
    p: &Process,
    dag: &Dag,
    job: usize,
    why: &str,
    capacity: Capacity,
) -> Option<Decision> {
    let node = &dag.jobs[job];
    let verify = dag.verify_of(job);
    let verify_failed = match verify.map(|v| (v, &p.run.jobs[v])) {
        Some((v, JobState::Pending)) => return dispatch_side(p, v, capacity),
        Some((_, JobState::Failed { why })) => format!(" Its verify job failed too: {why}."),
        Some(_) => return None,
        None => String::new(),
    };
    let key = p
        .run
        .effects
        .iter()
        .find(|mark| mark.job == job)
        .map_or_else(String::new, |mark| {
            format!(" (idempotency key {})", mark.key)
        });
    Some(Decision::Ask {
        process: p.id,
        job,
        question: format!(
            "job {} reaches beyond its workspace and its attempt ended without saying whether its effect took place{key}: {why}.{verify_failed} Did it take effect? Answer retry (it did not), skip (it did) or fail",
            node.id
        ),
        reason: WaitReason::Crash,
    })
}

/// A dispatch of verify or compensate job `job` into its lane's workspace, if a slot is
/// free.
fn dispatch_side(p: &Process, job: usize, capacity: Capacity) -> Option<Decision> {
    let dag = &p.slaps.get(p.run.candidate)?.dag;
    let LaneState::Open { sws } = p.run.lanes[dag.jobs[job].lane] else {
        return None;
    };
    let parallel = capacity.per_process.min(p.intent.parallel);
    if capacity.slots_free == 0 || p.running_attempts().len() >= parallel {
        return None;
    }
    Some(Decision::Dispatch {
        process: p.id,
        job,
        sws,
    })
}

/// Whether an effect of `run` (one that took place, or one not known either way) is owed
/// its compensation: its compensate job is not over, and can run, in its lane's open
/// workspace (a lane that collapsed took its effects with it: the goal landed).
pub(crate) fn owes_compensation(run: &Run, dag: &Dag) -> bool {
    run.effects.iter().any(|mark| {
        dag.compensation_of(mark.job).is_some_and(|c| {
            !run.jobs[c].is_over() && matches!(run.lanes[dag.jobs[c].lane], LaneState::Open { .. })
        })
    })
}

/// How long a job that failed `tries` times waits before its next attempt.
fn backoff(node: &jitos_tasks::JobNode, tries: u32) -> u64 {
    let JobKind::Run { backoff_ms, .. } = &node.kind else {
        return 0;
    };
    let doublings = tries.saturating_sub(1).min(20);
    backoff_ms
        .saturating_mul(1 << doublings)
        .min(BACKOFF_MS_MAX)
}
