//! Deciding workspace commands: each is one `sws.*` record. A collapse or rebase is run on
//! a copy of the working state to learn what to record (its net rewrites, or the conflicts
//! that refuse it); the fold runs it again on the state itself.

use jitos_ledger::Actor;
use jitos_sws::{Over, SwsError};
use jitos_tree::{sync_rewrite, Tree};
use jitos_warp::Rewrite;

use super::{Answer, Decided, Working};
use jitos_gov::policy::Verdict;

use crate::{
    collapse_hold::{check_vote, is_ruled, rule_collapse, stands, HoldVote, Requester},
    collapse_record::{CollapseRecord, CollapseVote},
    files::tree_of,
    ruling::GovernanceRefusal,
    sws_record::{collapse_op, RefusedOp, SwsRecord},
    KernelError,
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

/// A collapse. A workspace that would change the system, with a policy in force, is ruled
/// on first (`collapse_hold`) unless its latest ruling still stands, and its collapse (or
/// the conflicts that refuse it) is recorded in the same step only if the ruling lets it.
pub(crate) fn collapse(
    working: &Working<'_>,
    actor: Actor,
    sws: u64,
    by: &Requester,
    writ: Option<u64>,
) -> Result<Decided, KernelError> {
    working.check_not_a_lane(sws)?;
    let state = working.state;
    if !is_ruled(state, sws)? {
        return record_collapse(actor, &collapse_op(state, sws, working.seq)?);
    }
    if let Some(hold) = state.holds.get(sws) {
        if stands(state, hold, working.now_ms)? {
            return match hold.refusal() {
                None => record_collapse(actor, &collapse_op(state, sws, working.seq)?),
                Some(refusal) => Err(KernelError::GovernanceRefused(refusal)),
            };
        }
    }
    let ruling = rule_collapse(state, sws, by, writ, working.now_ms)?;
    let lets_through = ruling.ruling.verdict == Verdict::Allow;
    let ruled = CollapseRecord::Ruling(Box::new(ruling));
    let mut decided = Decided::one(actor.clone(), ruled.kind(), ruled.encode()?, Answer::Record);
    if lets_through {
        // Ruling on a collapse changes no workspace: the collapse one seq on is the same.
        let op = collapse_op(state, sws, working.seq + 1)?;
        decided.records.extend(record_collapse(actor, &op)?.records);
        decided.answer = answer_of(&op);
    }
    Ok(decided)
}

/// A vote on a held collapse whose ruling still stands; the vote that completes its
/// approvals carries the collapse (or its conflicts) in the same step.
pub(crate) fn vote(
    working: &Working<'_>,
    actor: Actor,
    vote: CollapseVote,
) -> Result<Decided, KernelError> {
    let sws = vote.sws;
    let refused = KernelError::GovernanceRefused;
    let state = working.state;
    let hold = state
        .holds
        .get(sws)
        .ok_or(refused(GovernanceRefusal::NotHeld { sws }))?;
    check_vote(hold, &vote).map_err(refused)?;
    if !stands(state, hold, working.now_ms)? {
        return Err(refused(GovernanceRefusal::HoldStale { sws }));
    }
    let mut after = hold.clone();
    after.votes.push(HoldVote {
        seq: working.seq,
        uid: vote.uid,
        user: vote.user.clone(),
        approve: vote.approve,
        note: vote.note.clone(),
    });
    let cast = CollapseRecord::Vote(vote);
    let mut decided = Decided::one(actor.clone(), cast.kind(), cast.encode()?, Answer::Record);
    if after.lets_through() {
        let op = collapse_op(state, sws, working.seq + 1)?;
        decided.records.extend(record_collapse(actor, &op)?.records);
        decided.answer = answer_of(&op);
    }
    Ok(decided)
}

/// A collapse's or a conflict's record, answered as such.
fn record_collapse(actor: Actor, op: &SwsRecord) -> Result<Decided, KernelError> {
    record(actor, op, answer_of(op))
}

fn answer_of(op: &SwsRecord) -> Answer {
    match op {
        SwsRecord::Conflict { report, .. } => Answer::Sws(Some(report.clone())),
        _ => Answer::Sws(None),
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
