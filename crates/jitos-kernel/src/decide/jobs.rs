//! Deciding job commands: a dispatch, the one terminal record of each attempt, and a
//! worker's registration.

use jitos_ledger::{Actor, NewRecord};
use jitos_sws::View as _;
use jitos_tree::{sync_rewrite, Entry, Tree, TreePath, ROOT_ID};
use jitos_warp::{NodeId, Rewrite};

use jitos_gov::policy::Verdict;

use super::{blob_ref, effects, sws, Answer, Decided, Working};
use crate::{
    collapse_hold::Requester,
    connect_record::{ConnectRecord, KIND_JOB_CONNECT},
    fetch_record::{FetchRecord, KIND_JOB_FETCH},
    files::{blobs_of, tree_of},
    job_record::{Dispatch, Effect, FailureCause, JobRecord, Results, WorkerInstall},
    job_ruling::{rule_public_job, PublicJob, KIND_JOB_RULING},
    proposal_check::check_scope,
    sws_record::SwsRecord,
    KernelError, Proposed,
};

/// A dispatch: its id is its record's seq. A job of no process may not run in a
/// process's workspace. A file job into a workspace without files first records its root
/// directory, by the system: the worker sees an (empty) root and proposes against it.
pub(crate) fn dispatch(
    working: &Working<'_>,
    actor: Actor,
    dispatch: Dispatch,
) -> Result<Decided, KernelError> {
    working
        .state
        .check_open(dispatch.sws)
        .map_err(KernelError::JobRefused)?;
    if dispatch.owner.is_none() {
        working.check_not_a_lane(dispatch.sws)?;
    }
    let mut records = Vec::new();
    if dispatch.effect == Effect::Files {
        if let Some(root) = root_if_missing(working, dispatch.sws)? {
            records.extend(sws::record(Actor::System, &root, Answer::Record)?.records);
        }
    }
    let attempt = working.seq + records.len() as u64;
    let begin = effects::begin(working.state, &dispatch, attempt)?;
    records.push(job_record(actor, &JobRecord::Dispatch(dispatch))?);
    // Before the worker starts: the begin is durable with the dispatch, or neither is.
    records.extend(begin);
    Ok(Decided {
        records,
        blobs: Vec::new(),
        answer: Answer::Record,
    })
}

/// A job outside any process: ruled on first with a policy in force (`job_ruling.rs`),
/// and dispatched after its ruling in the same step if allowed; else the ruling alone is
/// recorded and answered.
pub(crate) fn run_public(
    working: &Working<'_>,
    actor: Actor,
    dispatch_of: Dispatch,
    effect: jitos_gov::Effect,
    by: &Requester,
    writ: Option<u64>,
) -> Result<Decided, KernelError> {
    // What would refuse the dispatch refuses it before a ruling is recorded for it.
    working
        .state
        .check_open(dispatch_of.sws)
        .map_err(KernelError::JobRefused)?;
    working.check_not_a_lane(dispatch_of.sws)?;
    let job = PublicJob {
        sws: dispatch_of.sws,
        worker: dispatch_of.worker.clone(),
        effect,
        paths: dispatch_of.paths.clone(),
    };
    let Some(ruling) = rule_public_job(working.state, &job, by, writ, working.now_ms)? else {
        return dispatch(working, actor, dispatch_of);
    };
    let allowed = ruling.ruling.verdict == Verdict::Allow;
    let mut records = vec![NewRecord {
        kind: KIND_JOB_RULING.to_owned(),
        actor: actor.clone(),
        payload: ruling.encode()?,
    }];
    if allowed {
        let after = Working {
            seq: working.seq + 1,
            ..*working
        };
        records.extend(dispatch(&after, actor, dispatch_of)?.records);
    }
    Ok(Decided {
        records,
        blobs: Vec::new(),
        answer: Answer::Record,
    })
}

/// A dispatch and, right after it, its failure to start (by the system, which could not
/// start it); the answer is the failure record, whose attempt is the dispatch's seq.
pub(crate) fn unstartable(
    working: &Working<'_>,
    actor: Actor,
    dispatch_of: Dispatch,
    detail: String,
) -> Result<Decided, KernelError> {
    let mut decided = dispatch(working, actor, dispatch_of)?;
    let attempt = working.seq
        + decided
            .records
            .iter()
            .position(|r| r.kind == crate::KIND_JOB_DISPATCH)
            .unwrap_or_default() as u64;
    let failed = JobRecord::Failed {
        attempt,
        cause: FailureCause::Spawn,
        detail,
    };
    decided.records.push(job_record(Actor::System, &failed)?);
    // A worker that never started took no effect; the begin, if any, ends so.
    if let Some(begin) = decided
        .records
        .iter()
        .find(|r| r.kind == crate::KIND_EFFECT_BEGIN)
    {
        if let crate::EffectRecord::Begin(begin) =
            crate::EffectRecord::decode(&begin.kind, &begin.payload)?
        {
            decided
                .records
                .push(effects::new_record(&crate::EffectRecord::End(
                    crate::EffectEndRecord {
                        process: begin.process,
                        job: begin.job,
                        key: begin.key,
                        end: jitos_sched::EffectEnd::NotHappened,
                        by: crate::KnownBy::Attempt,
                    },
                ))?);
        }
    }
    Ok(decided)
}

/// The record of a workspace's root directory, when its tree has none yet.
fn root_if_missing(working: &Working<'_>, sws: u64) -> Result<Option<SwsRecord>, KernelError> {
    // One lookup, not the whole tree: every tree with files has its root directory.
    let root = NodeId::new(ROOT_ID)
        .map_err(|e| KernelError::Payload(format!("the root directory's id: {e}")))?;
    let has_root = working
        .state
        .pool
        .view(&working.state.graph, sws)
        .map_err(KernelError::Workspace)?
        .node(&root)
        .is_some();
    if has_root {
        return Ok(None);
    }
    let mut root_only = Tree::new();
    root_only.insert(TreePath::root(), Entry::Dir);
    let rewrite = sync_rewrite(&Tree::new(), &root_only)?;
    Ok(Some(SwsRecord::Apply { sws, rewrite }))
}

/// A proposal ends its attempt: applied (`job.done`, with its artifacts stored in the same
/// write) or refused with the reason (`job.refused`, nothing stored).
pub(crate) fn propose(
    working: &Working<'_>,
    actor: Actor,
    attempt: u64,
    proposed: Proposed,
) -> Result<Decided, KernelError> {
    let dispatch = working
        .state
        .jobs
        .running_attempt(attempt)
        .map_err(KernelError::JobRefused)?
        .dispatch
        .clone();
    let artifacts: Vec<_> = proposed
        .artifacts
        .iter()
        .map(|(name, bytes)| (name.clone(), blob_ref(bytes)))
        .collect();
    if let Err(reason) = check_proposal(working, &dispatch, &proposed.rewrites, &artifacts) {
        let op = JobRecord::Refused {
            attempt,
            reason: reason.clone(),
        };
        let end = effects::end_of_attempt(working.state, &op)?;
        return Ok(Decided {
            records: std::iter::once(job_record(actor, &op)?)
                .chain(end)
                .collect(),
            blobs: Vec::new(),
            answer: Answer::Proposal(Some(reason)),
        });
    }
    let op = JobRecord::Done {
        attempt,
        rewrites: proposed.rewrites,
        results: Results {
            artifacts,
            exit_status: proposed.exit_status,
            cpu_ms: proposed.cpu_ms,
            max_rss_kib: proposed.max_rss_kib,
        },
    };
    let end = effects::end_of_attempt(working.state, &op)?;
    Ok(Decided {
        records: std::iter::once(job_record(actor, &op)?)
            .chain(end)
            .collect(),
        blobs: proposed.artifacts.into_iter().map(|(_, b)| b).collect(),
        answer: Answer::Proposal(None),
    })
}

pub(crate) fn fail(
    working: &Working<'_>,
    actor: Actor,
    attempt: u64,
    cause: FailureCause,
    detail: String,
) -> Result<Decided, KernelError> {
    working
        .state
        .jobs
        .running_attempt(attempt)
        .map_err(KernelError::JobRefused)?;
    let op = JobRecord::Failed {
        attempt,
        cause,
        detail,
    };
    let end = effects::end_of_attempt(working.state, &op)?;
    Ok(Decided {
        records: std::iter::once(job_record(actor, &op)?)
            .chain(end)
            .collect(),
        blobs: Vec::new(),
        answer: Answer::Record,
    })
}

/// A request made for a running attempt: its bodies too large for the record are stored
/// with it, and every blob it names must be one of them or already stored. The fold
/// checks it against the attempt and its writ.
pub(crate) fn fetch(
    working: &Working<'_>,
    actor: Actor,
    record: FetchRecord,
    blobs: Vec<Vec<u8>>,
) -> Result<Decided, KernelError> {
    working
        .state
        .jobs
        .running_attempt(record.attempt)
        .map_err(KernelError::JobRefused)?;
    let given: Vec<_> = blobs.iter().map(|bytes| blob_ref(bytes)).collect();
    for blob in record.blobs() {
        if !given.contains(&blob) && !working.has_blob(&blob)? {
            return Err(KernelError::BlobMissing { blob });
        }
    }
    let mut decided = Decided::one(actor, KIND_JOB_FETCH, record.encode()?, Answer::Record);
    decided.blobs = blobs;
    Ok(decided)
}

/// A connection through a running attempt's proxy; the fold checks it against the
/// attempt and its writ.
pub(crate) fn connect(
    working: &Working<'_>,
    actor: Actor,
    record: &ConnectRecord,
) -> Result<Decided, KernelError> {
    working
        .state
        .jobs
        .running_attempt(record.attempt)
        .map_err(KernelError::JobRefused)?;
    Ok(Decided::one(
        actor,
        KIND_JOB_CONNECT,
        record.encode()?,
        Answer::Record,
    ))
}

pub(crate) fn install(actor: Actor, install: WorkerInstall) -> Result<Decided, KernelError> {
    let op = JobRecord::Install(install);
    Ok(Decided::one(actor, op.kind(), op.encode()?, Answer::Record))
}

fn job_record(actor: Actor, op: &JobRecord) -> Result<NewRecord, KernelError> {
    Ok(NewRecord {
        kind: op.kind().to_owned(),
        actor,
        payload: op.encode()?,
    })
}

/// Why a proposal may not be applied to the dispatch's workspace, if it may not: it
/// leaves the job's scope, names a blob that is neither stored nor among its artifacts,
/// does not apply in the workspace, or (for a file-changing job) leaves a file tree that
/// does not read back.
fn check_proposal(
    working: &Working<'_>,
    dispatch: &Dispatch,
    rewrites: &[Rewrite],
    artifacts: &[(String, jitos_warp::BlobRef)],
) -> Result<(), String> {
    check_scope(dispatch, rewrites)?;
    for rewrite in rewrites {
        for blob in blobs_of(rewrite) {
            let among_artifacts = artifacts.iter().any(|(_, a)| *a == blob);
            match working.has_blob(&blob) {
                Ok(true) => {}
                Ok(false) if among_artifacts => {}
                Ok(false) => {
                    return Err(format!(
                        "it names blob {blob}, which is neither stored nor among its artifacts"
                    ))
                }
                Err(error) => return Err(format!("cannot check blob {blob}: {error}")),
            }
        }
    }
    let mut trial = working.state.clone();
    for (index, rewrite) in rewrites.iter().enumerate() {
        trial
            .pool
            .apply(&trial.graph, dispatch.sws, rewrite, working.seq)
            .map_err(|error| {
                format!(
                    "rewrite {index} does not apply in workspace {}: {error}",
                    dispatch.sws
                )
            })?;
    }
    if dispatch.effect == Effect::Files && !rewrites.is_empty() {
        let files = trial
            .sws_graph(dispatch.sws)
            .map_err(|e| format!("cannot read workspace {}: {e}", dispatch.sws))?;
        tree_of(&files).map_err(|e| format!("the files it leaves do not form a tree: {e}"))?;
    }
    Ok(())
}
