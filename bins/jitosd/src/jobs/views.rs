//! The wire views of attempts and workers.

use jitos_kernel::{Attempt, AttemptStatus, Effect, JobRecord};
use jitos_proto::{
    AttemptState, AttemptView, FailureCause, PathAccess, WorkerLimitsView, WorkerOrigin,
    WorkerProfile, WorkerView,
};
use jitos_worker::{Access, SandboxProfile};

use super::{public_effect, ResolvedWorker};

/// The wire form of an attempt.
pub fn attempt_view(attempt: &Attempt) -> AttemptView {
    let d = &attempt.dispatch;
    let state = match &attempt.status {
        AttemptStatus::Running => AttemptState::Running,
        AttemptStatus::Done { seq, results } => AttemptState::Done {
            seq: *seq,
            exit_status: results.exit_status,
            artifacts: results
                .artifacts
                .iter()
                .map(|(name, blob)| (name.clone(), blob.to_string()))
                .collect(),
            cpu_ms: results.cpu_ms,
            max_rss_kib: results.max_rss_kib,
        },
        AttemptStatus::Failed { seq, cause, detail } => AttemptState::Failed {
            seq: *seq,
            cause: failure_cause(*cause),
            detail: detail.clone(),
        },
        AttemptStatus::Refused { seq, reason } => AttemptState::Refused {
            seq: *seq,
            reason: reason.clone(),
        },
    };
    AttemptView {
        id: attempt.id,
        worker: d.worker.clone(),
        worker_version: d.worker_version.clone(),
        sws: d.sws,
        args: d.args.clone(),
        deadline_ms: d.deadline_ms,
        effect: match d.effect {
            Effect::GraphOnly => jitos_gov::Effect::None,
            Effect::Files => jitos_gov::Effect::Workspace,
        },
        paths: d.paths.clone(),
        state,
    }
}

/// The wire form of why an attempt failed.
fn failure_cause(cause: jitos_kernel::FailureCause) -> FailureCause {
    use jitos_kernel::FailureCause as Cause;
    match cause {
        Cause::Spawn => FailureCause::Spawn,
        Cause::Worker => FailureCause::Worker,
        Cause::Protocol => FailureCause::Protocol,
        Cause::Crashed => FailureCause::Crashed,
        Cause::Deadline => FailureCause::Deadline,
        Cause::Cancelled => FailureCause::Cancelled,
        Cause::Interrupted => FailureCause::Interrupted,
        Cause::Budget => FailureCause::Budget,
    }
}

/// A one-line summary of a job or registry record at `seq`.
pub fn summarize_job(seq: u64, op: &JobRecord) -> String {
    match op {
        JobRecord::Dispatch(d) => format!(
            "attempt {seq}: dispatched to worker {} {} in workspace {}{}",
            d.worker,
            d.worker_version,
            d.sws,
            d.owner
                .map(|o| format!(" for process {} job #{}", o.process, o.job + 1))
                .unwrap_or_default()
        ),
        JobRecord::Done {
            attempt,
            rewrites,
            results,
        } => format!(
            "attempt {attempt} done: {} ops applied, exit status {}, {} artifacts",
            rewrites.iter().map(|r| r.ops.len()).sum::<usize>(),
            results.exit_status,
            results.artifacts.len()
        ),
        JobRecord::Failed {
            attempt,
            cause,
            detail,
        } => format!("attempt {attempt} failed ({}): {detail}", cause.as_str()),
        JobRecord::Refused { attempt, reason } => {
            format!("attempt {attempt} refused: {reason}")
        }
        JobRecord::Install(install) => format!(
            "worker {} {} installed from {}",
            install.manifest.name, install.manifest.version, install.binary
        ),
    }
}

/// The wire form of a worker, with why the operator's policy refuses it, if it does.
pub fn worker_view(worker: &ResolvedWorker, policy_refusal: Option<String>) -> WorkerView {
    let m = &worker.manifest;
    WorkerView {
        name: m.name.clone(),
        version: m.version.clone(),
        origin: if worker.installed_seq.is_some() {
            WorkerOrigin::Installed
        } else {
            WorkerOrigin::Builtin
        },
        binary: worker.binary.to_string_lossy().into_owned(),
        profile: match m.sandbox_profile {
            SandboxProfile::Pure => WorkerProfile::Pure,
            SandboxProfile::Shell => WorkerProfile::Shell,
        },
        effect_class: public_effect(m.effect_class),
        needs: m
            .needs
            .iter()
            .map(|need| {
                (
                    need.path.to_string_lossy().into_owned(),
                    match need.access {
                        Access::Read => PathAccess::Read,
                        Access::Write => PathAccess::Write,
                    },
                )
            })
            .collect(),
        limits: WorkerLimitsView {
            cpu_seconds: worker.limits.cpu_seconds,
            address_space_mib: worker.limits.address_space_bytes >> 20,
            open_files: worker.limits.open_files,
            processes: worker.limits.processes,
            file_size_mib: worker.limits.file_size_bytes >> 20,
        },
        installed_seq: worker.installed_seq,
        policy_refusal,
    }
}
