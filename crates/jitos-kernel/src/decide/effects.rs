//! The effect records that go with other records: an `effect.begin` after the dispatch of
//! a step whose effect leaves its workspace, and the one `effect.end` of each begin, after
//! whatever made it known whether the effect took place (its attempt's end, its verify
//! job's end, a person's answer) or before the end of a process that never found out.

use jitos_ledger::{Actor, NewRecord};
use jitos_sched::{effect_key, EffectEnd, EffectState, Process};
use jitos_tasks::Purpose;

use crate::{
    effect_record::{EffectBegin, EffectEndRecord, EffectRecord, KnownBy},
    job_record::{Dispatch, FailureCause, JobRecord},
    KernelError, State,
};

/// The `effect.begin` for the dispatch of `attempt`, if it runs a step of a process whose
/// effect leaves its workspace.
pub(crate) fn begin(
    state: &State,
    dispatch: &Dispatch,
    attempt: u64,
) -> Result<Option<NewRecord>, KernelError> {
    let Some(owner) = dispatch.owner else {
        return Ok(None);
    };
    let Some(node) = state.process_job(owner) else {
        return Ok(None);
    };
    let class = state.job_effect(node);
    if node.purpose != Purpose::Step || class < jitos_gov::Effect::Local {
        return Ok(None);
    }
    let candidate = state
        .processes
        .get(owner.process)
        .map_or(0, |p| p.run.candidate);
    let record = EffectRecord::Begin(EffectBegin {
        process: owner.process,
        job: owner.job,
        attempt,
        key: effect_key(owner.process, candidate, owner.job),
        class,
    });
    Ok(Some(new_record(&record)?))
}

/// The `effect.end` that the terminal record `op` of an attempt makes known, if it ends
/// an effect's attempt with a verdict, or a verify job's attempt that answers for one.
pub(crate) fn end_of_attempt(
    state: &State,
    op: &JobRecord,
) -> Result<Option<NewRecord>, KernelError> {
    let attempt = match op {
        JobRecord::Done { attempt, .. }
        | JobRecord::Refused { attempt, .. }
        | JobRecord::Failed { attempt, .. } => *attempt,
        JobRecord::Dispatch(_) | JobRecord::Install(_) => return Ok(None),
    };
    let Some(owner) = state.jobs.attempt(attempt).and_then(|a| a.dispatch.owner) else {
        return Ok(None);
    };
    let Some(p) = state.processes.get(owner.process) else {
        return Ok(None);
    };
    let Some(node) = state.process_job(owner) else {
        return Ok(None);
    };
    // Only the job's own running attempt speaks for it: one of an abandoned plan, whose
    // job index now names another job, does not.
    let current = matches!(
        p.run.jobs.get(owner.job),
        Some(jitos_sched::JobState::Running { attempt: a, .. }) if *a == attempt
    );
    if !current {
        return Ok(None);
    }
    // A refused proposal says nothing of an effect the worker made (or not) as it ran.
    let said = match op {
        JobRecord::Done { results, .. } => Some(results.exit_status == 0),
        // A worker that never started did nothing; a verify job that never started said
        // nothing.
        JobRecord::Failed {
            cause: FailureCause::Spawn,
            ..
        } if node.purpose == Purpose::Step => Some(false),
        _ => None,
    };
    let Some(happened) = said else {
        return Ok(None);
    };
    let (job, by) = match node.purpose {
        Purpose::Step => (owner.job, KnownBy::Attempt),
        Purpose::Verify { of } => (of, KnownBy::Verify),
        Purpose::Compensate { .. } => return Ok(None),
    };
    let begun_by_this = |attempt_of_mark: u64| match node.purpose {
        Purpose::Step => attempt_of_mark == attempt,
        _ => true,
    };
    let Some(mark) = open_mark(p, job).filter(|m| begun_by_this(m.attempt)) else {
        return Ok(None);
    };
    let end = if happened {
        EffectEnd::Happened
    } else {
        EffectEnd::NotHappened
    };
    ended(p.id, job, &mark.key, end, by).map(Some)
}

/// The `effect.end` a person's answer to a job's "did it take effect?" makes known.
pub(crate) fn end_by_person(
    state: &State,
    process: u64,
    end: EffectEnd,
) -> Result<Option<NewRecord>, KernelError> {
    let Some(p) = state.processes.get(process) else {
        return Ok(None);
    };
    let jitos_sched::Status::Waiting {
        job,
        reason: jitos_sched::WaitReason::Crash,
        ..
    } = p.status
    else {
        return Ok(None);
    };
    match open_mark(p, job) {
        Some(mark) => ended(process, job, &mark.key, end, KnownBy::Person).map(Some),
        None => Ok(None),
    }
}

/// Which open effects end unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Open {
    /// Every one: the process ends, and will not learn.
    All,
    /// Those whose step and verify job are not running (a running one's end will say).
    Idle,
}

/// An `effect.end` of `Unknown` for each effect of `process` still open (`which`): what a
/// process's end, or a person's fail, records first.
pub(crate) fn ends_unknown(
    state: &State,
    process: u64,
    which: Open,
) -> Result<Vec<NewRecord>, KernelError> {
    unknown_ends(state, process, which)
        .iter()
        .map(|end| new_record(&EffectRecord::End(end.clone())))
        .collect()
}

/// The ends `ends_unknown` records.
pub(crate) fn unknown_ends(state: &State, process: u64, which: Open) -> Vec<EffectEndRecord> {
    let Some(p) = state.processes.get(process) else {
        return Vec::new();
    };
    let dag = p.slaps.get(p.run.candidate).map(|slap| &slap.dag);
    let running = |job: usize| {
        matches!(
            p.run.jobs.get(job),
            Some(jitos_sched::JobState::Running { .. })
        )
    };
    // An effect is still being found out while its step, or its verify job, runs.
    let settling =
        |job: usize| running(job) || dag.is_some_and(|dag| dag.verify_of(job).is_some_and(running));
    p.run
        .effects
        .iter()
        .filter(|mark| mark.state == EffectState::Begun)
        .filter(|mark| which == Open::All || !settling(mark.job))
        .map(|mark| EffectEndRecord {
            process,
            job: mark.job,
            key: mark.key.clone(),
            end: EffectEnd::Unknown,
            by: KnownBy::ProcessEnd,
        })
        .collect()
}

fn open_mark(p: &Process, job: usize) -> Option<&jitos_sched::EffectMark> {
    p.run
        .effects
        .iter()
        .find(|mark| mark.job == job && mark.state == EffectState::Begun)
}

fn ended(
    process: u64,
    job: usize,
    key: &str,
    end: EffectEnd,
    by: KnownBy,
) -> Result<NewRecord, KernelError> {
    new_record(&EffectRecord::End(EffectEndRecord {
        process,
        job,
        key: key.to_owned(),
        end,
        by,
    }))
}

/// An effect record, by the system: the kernel writes them as consequences.
pub(crate) fn new_record(record: &EffectRecord) -> Result<NewRecord, KernelError> {
    Ok(NewRecord {
        kind: record.kind().to_owned(),
        actor: Actor::System,
        payload: record.encode()?,
    })
}
