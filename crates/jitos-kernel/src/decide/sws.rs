//! Deciding workspace commands: each is one `sws.*` record. A collapse or rebase is run on
//! a copy of the working state to learn what to record (its net rewrites, or the conflicts
//! that refuse it); the fold runs it again on the state itself.

use jitos_ledger::Actor;
use jitos_sws::{Over, SwsError};
use jitos_tree::{sync_rewrite, Tree};
use jitos_warp::Rewrite;

use super::{Answer, Decided, Working};
use crate::{
    files::tree_of,
    sws_record::{RefusedOp, SwsRecord},
    KernelError, State,
};

pub(crate) fn create(
    working: &Working<'_>,
    actor: Actor,
    over: Over,
) -> Result<Decided, KernelError> {
    if let Over::Workspace { id } = over {
        working.check_not_a_lane(id)?;
    }
    record(actor, &SwsRecord::Create { over }, Answer::Record)
}

/// A person's or client's rewrite in a workspace, refused in a live process's lane.
pub(crate) fn apply_user(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
    rewrite: Rewrite,
) -> Result<Decided, KernelError> {
    working.check_not_a_lane(sws)?;
    record(actor, &SwsRecord::Apply { sws, rewrite }, Answer::Record)
}

pub(crate) fn import_tree(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
    wanted: &Tree,
) -> Result<Decided, KernelError> {
    working.check_blobs_stored(wanted)?;
    let rewrite = sync_rewrite(&tree_of(&working.state.sws_graph(sws)?)?, wanted)?;
    apply_user(working, actor, sws, rewrite)
}

pub(crate) fn collapse(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
) -> Result<Decided, KernelError> {
    working.check_not_a_lane(sws)?;
    let op = collapse_op(working.state, sws, working.seq)?;
    let report = match &op {
        SwsRecord::Conflict { report, .. } => Some(report.clone()),
        _ => None,
    };
    record(actor, &op, Answer::Sws(report))
}

/// What collapsing `sws` at `seq` records: the collapse with its net rewrites, or the
/// conflicts that refuse it.
pub(crate) fn collapse_op(state: &State, sws: u64, seq: u64) -> Result<SwsRecord, KernelError> {
    let mut trial = state.clone();
    match trial.pool.collapse(&trial.graph, sws, seq) {
        Ok(collapse) => Ok(SwsRecord::Collapse {
            sws,
            rewrites: collapse.rewrites,
        }),
        Err(SwsError::Conflicts(report)) => Ok(SwsRecord::Conflict {
            sws,
            op: RefusedOp::Collapse,
            report: *report,
        }),
        Err(error) => Err(KernelError::Workspace(error)),
    }
}

pub(crate) fn rebase(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
) -> Result<Decided, KernelError> {
    working.check_not_a_lane(sws)?;
    let mut trial = working.state.clone();
    let (op, report) = match trial.pool.rebase(&trial.graph, sws, working.seq) {
        Ok(()) => (SwsRecord::Rebase { sws }, None),
        Err(SwsError::Conflicts(report)) => (
            SwsRecord::Conflict {
                sws,
                op: RefusedOp::Rebase,
                report: (*report).clone(),
            },
            Some(*report),
        ),
        Err(error) => return Err(KernelError::Workspace(error)),
    };
    record(actor, &op, Answer::Sws(report))
}

pub(crate) fn discard(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
    reason: String,
) -> Result<Decided, KernelError> {
    working.check_not_a_lane(sws)?;
    record(actor, &SwsRecord::Discard { sws, reason }, Answer::Record)
}

pub(crate) fn record(actor: Actor, op: &SwsRecord, answer: Answer) -> Result<Decided, KernelError> {
    Ok(Decided::one(actor, op.kind(), op.encode()?, answer))
}
