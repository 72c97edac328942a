//! Collapsing a workspace outside any process (`jitos sws collapse`, `jitos mcp`'s
//! `collapse`), which the policy in force rules on at the collapse point, and the votes on
//! a collapse it holds for approvals (`jitos sws approve`, `jitos sws reject`).
//!
//! The kernel decides; this module says who asks (the connection's principal, never
//! anything the client claims) and turns what it decided into an answer: the collapse
//! or its conflicts, a hold with where it stands, or the refusal.

use jitos_gov::{policy::Verdict, Principal};
use jitos_kernel::{
    CollapseVote, Command, GovernanceRefusal, Hold, KernelError, KernelHandle, Outcome, Requester,
    Standing, View, KIND_SWS_RULING, VOTE_NOTE_BYTES_MAX,
};
use jitos_ledger::Actor;
use jitos_proto::{ErrorCode, ErrorInfo, HoldStanding, HoldVoteView, Response, SwsHold};

use crate::{answer::kernel_error_info, views};

/// Collapses `sws` as `principal` asks, under `writ` if given.
pub async fn collapse(
    kernel: &KernelHandle,
    actor: Actor,
    principal: &Principal,
    sws: u64,
    writ: Option<u64>,
) -> Response {
    let by = Requester {
        uid: principal.uid,
        user: principal.user.clone(),
        roles: principal.roles.iter().collect(),
    };
    let outcome = kernel
        .execute(actor, Command::SwsCollapse { sws, by, writ })
        .await;
    answered(kernel, sws, outcome)
}

/// Records `principal`'s vote on `sws`'s held collapse.
pub async fn vote(
    kernel: &KernelHandle,
    actor: Actor,
    principal: &Principal,
    sws: u64,
    approve: bool,
    note: String,
) -> Response {
    if note.len() > VOTE_NOTE_BYTES_MAX {
        return error(
            ErrorCode::BadRequest,
            format!("the comment or reason is over {VOTE_NOTE_BYTES_MAX} bytes"),
        );
    }
    let vote = CollapseVote {
        sws,
        uid: principal.uid,
        user: principal.user.clone(),
        roles: principal.roles.iter().collect(),
        approve,
        note,
    };
    let outcome = kernel.execute(actor, Command::SwsVote(vote)).await;
    answered(kernel, sws, outcome)
}

/// The answer to a collapse or a vote, from what the kernel decided.
fn answered(kernel: &KernelHandle, sws: u64, outcome: Result<Outcome, KernelError>) -> Response {
    match outcome {
        Ok(Outcome::SwsDone(record)) => Response::SwsRecorded {
            sws,
            seq: record.seq,
            hash: record.hash.to_string(),
        },
        Ok(Outcome::SwsConflicts { record, report }) => {
            Response::SwsConflicts(views::conflict_view(&report, record.seq))
        }
        // A ruling that did not let the collapse through, or a vote that did not end the wait.
        Ok(Outcome::Recorded(record)) => match hold_view(&kernel.view(), sws) {
            Some(hold) if record.kind == KIND_SWS_RULING => match &hold.standing {
                HoldStanding::Denied => error(
                    ErrorCode::Forbidden,
                    GovernanceRefusal::CollapseDenied { sws, why: hold.why }.to_string(),
                ),
                _ => Response::SwsHeld(hold),
            },
            Some(hold) => Response::SwsHeld(hold),
            // Another vote, or the workspace's end, came in between.
            None => error(
                ErrorCode::BadRequest,
                format!(
                    "recorded at seq {}; workspace {sws} changed since (`jitos sws show {sws}` says where it stands)",
                    record.seq
                ),
            ),
        },
        Ok(other) => error(
            ErrorCode::Storage,
            format!("the kernel answered {other:?} to a collapse"),
        ),
        Err(KernelError::GovernanceRefused(GovernanceRefusal::CollapseHeld { .. })) => {
            match hold_view(&kernel.view(), sws) {
                Some(hold) => Response::SwsHeld(hold),
                None => error(
                    ErrorCode::BadRequest,
                    format!("workspace {sws} changed meanwhile; `jitos sws show {sws}` says where it stands"),
                ),
            }
        }
        Err(e) => Response::Error(kernel_error_info(&e)),
    }
}

/// The latest ruling on `sws`'s collapse as the wire shows it, if one stands recorded.
pub fn hold_view(view: &View, sws: u64) -> Option<SwsHold> {
    let (hold, current) = view.collapse_hold(sws)?;
    Some(wire_hold(&hold, current))
}

/// Where the latest ruling on `sws`'s collapse stands, if it still stands for the
/// workspace as it is.
pub fn held_standing(view: &View, sws: u64) -> Option<HoldStanding> {
    let (hold, current) = view.collapse_hold(sws)?;
    current.then(|| standing_view(&hold))
}

fn standing_view(hold: &Hold) -> HoldStanding {
    match hold.standing() {
        Standing::Allowed => HoldStanding::Allowed,
        Standing::Denied => HoldStanding::Denied,
        Standing::Waiting {
            count,
            from,
            approvals,
        } => HoldStanding::Waiting {
            count,
            from,
            approvals,
        },
        Standing::Approved => HoldStanding::Approved,
        Standing::Vetoed(veto) => HoldStanding::Vetoed {
            user: veto.user.clone(),
            note: veto.note.clone(),
        },
    }
}

fn wire_hold(hold: &Hold, current: bool) -> SwsHold {
    let standing = standing_view(hold);
    SwsHold {
        sws: hold.ruling.sws,
        ruling_seq: hold.seq,
        requester_uid: hold.ruling.uid,
        writ: hold.ruling.writ,
        why: hold.ruling.why(),
        paths: hold.ruling.facts.paths.clone(),
        current,
        standing,
        votes: hold
            .votes
            .iter()
            .map(|vote| HoldVoteView {
                seq: vote.seq,
                uid: vote.uid,
                user: vote.user.clone(),
                approve: vote.approve,
                note: vote.note.clone(),
            })
            .collect(),
    }
}

/// The role a vote on `sws`'s held collapse must come from: the one its ruling asks
/// for, else `approver` (a vote on a collapse that waits for none is refused later).
pub fn vote_role(view: &View, sws: u64) -> jitos_gov::Role {
    match view
        .collapse_hold(sws)
        .map(|(hold, _)| hold.ruling.ruling.verdict)
    {
        Some(Verdict::Require { from, .. }) => from,
        _ => jitos_gov::Role::Approver,
    }
}

fn error(code: ErrorCode, message: String) -> Response {
    Response::Error(ErrorInfo { code, message })
}
