//! The wire views of processes, and which records belong to one.

use jitos_kernel::{ProcessRecord, View};
use jitos_proto::{
    PlanJobKind, PlanJobState, PlanLaneState, ProcessDetail, ProcessJobView, ProcessLaneView,
    ProcessStatus, ProcessSummary,
};
use jitos_sched::{Event, JobState, LaneState, Process, Status, Then, WaitReason};
use jitos_tasks::JobKind;
use jitos_tree::TreeChange;

/// A process in a line.
pub fn summary(p: &Process) -> ProcessSummary {
    let jobs = p.slaps.get(p.run.candidate).map_or(0, |s| s.dag.jobs.len());
    let detail = match (&p.status, &p.run.unwinding) {
        (Status::Failed { why, .. }, _) => Some(why.clone()),
        (Status::Waiting { question, .. }, _) => Some(question.clone()),
        (Status::Running, Some(then)) => Some(match then {
            Then::Finish(outcome) => {
                format!("unwinding: compensating its effects, newest first, then {outcome}")
            }
            Then::Advance { to, .. } => format!(
                "unwinding: compensating its effects, newest first, then plan {}",
                to + 1
            ),
        }),
        _ => None,
    };
    ProcessSummary {
        id: p.id,
        goal: p.intent.goal.clone(),
        status: status(&p.status),
        detail,
        plan: p.run.candidate + 1,
        plans: p.slaps.len(),
        jobs_done: p
            .run
            .jobs
            .iter()
            .filter(|j| matches!(j, JobState::Done { .. }))
            .count(),
        jobs,
        attempts: p.attempts,
        submitted_ms: p.submitted_ms,
    }
}

/// A process in full; `kernel` reads what the workspace it waits in has changed.
pub fn detail(kernel: &View, p: &Process) -> ProcessDetail {
    let waiting_files = match &p.status {
        Status::Waiting { job, .. } => kernel
            .ask_context(p.id, *job)
            .map(|context| {
                context
                    .files
                    .iter()
                    .filter(|change| !change_is_dir(change))
                    .map(|change| match change {
                        TreeChange::Added { path, .. } => format!("added {}", path.as_str()),
                        TreeChange::Removed { path, .. } => format!("removed {}", path.as_str()),
                        TreeChange::Modified { path, .. } => format!("modified {}", path.as_str()),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    let waiting = match &p.status {
        Status::Waiting {
            question, reason, ..
        } => Some((question.clone(), wanted(*reason).to_owned())),
        _ => None,
    };
    let dag = p.slaps.get(p.run.candidate).map(|s| &s.dag);
    let jobs = dag
        .map(|dag| {
            dag.jobs
                .iter()
                .zip(&p.run.jobs)
                .zip(&p.run.rulings)
                .map(|((node, state), ruling)| ProcessJobView {
                    id: node.id.clone(),
                    lane: node.lane,
                    kind: match &node.kind {
                        JobKind::Run { worker, .. } => PlanJobKind::Run {
                            worker: worker.clone(),
                        },
                        JobKind::Ask { .. } => PlanJobKind::Ask,
                        JobKind::Race { .. } => PlanJobKind::Race,
                    },
                    state: job_state(state),
                    after: node.after.clone(),
                    ruling: ruling.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let lanes = dag
        .map(|dag| {
            dag.lanes
                .iter()
                .zip(&p.run.lanes)
                .enumerate()
                .map(|(lane, (info, state))| ProcessLaneView {
                    lane,
                    path: info.path.clone(),
                    state: match state {
                        LaneState::Unopened => PlanLaneState::Unopened,
                        LaneState::Open { .. } => PlanLaneState::Open,
                        LaneState::Collapsed { .. } => PlanLaneState::Collapsed,
                        LaneState::Discarded { .. } => PlanLaneState::Discarded,
                    },
                    sws: state.sws(),
                })
                .collect()
        })
        .unwrap_or_default();
    ProcessDetail {
        summary: summary(p),
        params: p
            .intent
            .params
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        waiting,
        waiting_files,
        explain: jitos_tasks::explain(&p.slaps),
        jobs,
        lanes,
        environment: environment_of(kernel, p.id),
    }
}

/// The environment process `id` was submitted into, as named values.
fn environment_of(kernel: &View, id: u64) -> Option<Vec<(String, String)>> {
    match kernel.run_environment(id) {
        Ok(environment) => environment.map(|environment| environment.entries()),
        // The ledger was verified at start; a record that reads no longer is the disk's
        // failure, said in the log rather than failing the whole view.
        Err(e) => {
            tracing::warn!(process = id, error = %e, "cannot read the process's environment");
            None
        }
    }
}

fn change_is_dir(change: &TreeChange) -> bool {
    match change {
        TreeChange::Added { entry, .. } | TreeChange::Removed { entry, .. } => entry.is_dir(),
        TreeChange::Modified { new, .. } => new.is_dir(),
    }
}

/// What kind of answer a wait wants, for people.
pub fn wanted(reason: WaitReason) -> &'static str {
    match reason {
        WaitReason::Ask => "a value: jitos resume PID --value JSON",
        WaitReason::Approval => {
            "jitos approve PID [--comment TEXT] or jitos reject PID --reason WHY"
        }
        WaitReason::Failure | WaitReason::Crash => {
            "jitos resume PID --value '\"retry\"' (or \"skip\", or \"fail\")"
        }
    }
}

/// The wire form of a process's status.
pub fn status(status: &Status) -> ProcessStatus {
    match status {
        Status::Running => ProcessStatus::Running,
        Status::Waiting { .. } => ProcessStatus::Waiting,
        Status::Done { .. } => ProcessStatus::Done,
        Status::Failed { .. } => ProcessStatus::Failed,
        Status::Cancelled { .. } => ProcessStatus::Cancelled,
    }
}

/// The wire form of a job's state.
fn job_state(state: &JobState) -> PlanJobState {
    match state {
        JobState::Pending => PlanJobState::Pending,
        JobState::Running { attempt, tries } => PlanJobState::Running {
            attempt: *attempt,
            tries: *tries,
        },
        JobState::RetryDue { tries } => PlanJobState::RetryDue { tries: *tries },
        JobState::Waiting { until_ms, tries } => PlanJobState::Waiting {
            until_ms: *until_ms,
            tries: *tries,
        },
        JobState::Unsure { tries, why } => PlanJobState::Unsure {
            tries: *tries,
            why: why.clone(),
        },
        JobState::Asked => PlanJobState::Asked,
        JobState::Gated { need, approvals } => PlanJobState::Gated {
            approved_by: approvals.clone(),
            need: need.count,
            from: need.from,
        },
        JobState::Done { value } => PlanJobState::Done {
            value: value.clone(),
        },
        JobState::Failed { why } => PlanJobState::Failed { why: why.clone() },
        JobState::Cancelled => PlanJobState::Cancelled,
    }
}

/// A one-line summary of a process record.
pub fn summarize(seq: u64, op: &ProcessRecord) -> String {
    match &op.event {
        Event::Submitted { intent, slaps } => format!(
            "process {seq} submitted: goal {} with {} plan{}",
            intent.goal,
            slaps.len(),
            if slaps.len() == 1 { "" } else { "s" }
        ),
        Event::LaneOpened { process, lane, sws } => {
            format!("process {process}: lane {lane} opened as workspace {sws}")
        }
        Event::RetryScheduled {
            process,
            job,
            until_ms,
        } => format!("process {process}: job {job} retries at {until_ms} ms"),
        Event::Asked {
            process, question, ..
        } => format!("process {process} asks: {question}"),
        Event::Answered { process, answer } => format!("process {process} answered: {answer}"),
        Event::LaneCollapsed { process, lane } => {
            format!("process {process}: lane {lane} collapsed")
        }
        Event::LaneConflict { process, lane, why } => {
            format!("process {process}: lane {lane} could not collapse: {why}")
        }
        Event::LaneDiscarded { process, lane } => {
            format!("process {process}: lane {lane} discarded")
        }
        Event::Advanced { process, to, why } => {
            format!("process {process} moves to plan {}: {why}", to + 1)
        }
        Event::Finished { process, outcome } => format!("process {process} ended: {outcome}"),
        Event::EffectBegun {
            process, job, key, ..
        } => format!(
            "process {process}: job #{}'s effect begins (key {key})",
            job + 1
        ),
        Event::EffectEnded { process, job, end } => {
            format!(
                "process {process}: job #{}'s effect ended: {end:?}",
                job + 1
            )
        }
        Event::Unwinding { process, why, .. } => {
            format!("process {process} unwinds, compensating its effects: {why}")
        }
        Event::Dispatched { .. }
        | Event::AttemptEnded { .. }
        | Event::Ruled { .. }
        | Event::Voted { .. } => "process event".to_owned(),
    }
}
