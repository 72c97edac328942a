//! `workspace_open`, `diff`, `collapse` and `workspace_discard`: a workspace's life, each
//! one request the daemon authorises and records.

use jitos_proto::{HoldStanding, Request, Response, SwsHold, SwsState};
use jitos_tree::TreeChange;
use serde_json::{json, Value};

use super::{
    daemon::Session,
    tools::{unexpected, Args, ToolError},
    OUTPUT_BYTES_MAX,
};
use crate::tree_cmd;

/// `workspace_open`: a workspace over the system's head.
pub fn open(session: &mut Session) -> Result<Value, ToolError> {
    match session.call(&Request::SwsCreate {
        at: None,
        parent: None,
    })? {
        Response::SwsRecorded { sws, seq, .. } => {
            session.opened(sws);
            Ok(json!({
                "workspace": sws,
                "record": seq,
                "next": "write files with file_write, run tests with job_run, check with diff, then collapse or workspace_discard",
            }))
        }
        other => Err(unexpected("a workspace's creation", &other)),
    }
}

/// `diff`: the workspace's file changes against its base, and a unified diff of them.
pub fn diff(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace"])?;
    let sws = args.id("workspace")?;
    let detail = match session.call(&Request::SwsShow(sws))? {
        Response::Sws(detail) => detail,
        other => return Err(unexpected("a workspace's detail", &other)),
    };
    if !matches!(detail.summary.state, SwsState::Open) {
        return Err(ToolError::BadArgument(format!(
            "workspace {sws} is closed ({}); open a new one with workspace_open",
            state_text(&detail.summary.state)
        )));
    }
    let files: Vec<Value> = detail.files.iter().filter_map(change_json).collect();
    let mut text =
        session.with_client(|client| tree_cmd::file_diffs_text(client, &detail.files))?;
    let truncated = truncate(&mut text, OUTPUT_BYTES_MAX);
    Ok(json!({
        "workspace": sws,
        "base_seq": detail.summary.base_seq,
        "files": files,
        "unified_diff": text,
        "truncated": truncated,
    }))
}

/// `collapse`: commits the workspace into the system, or says where its hold for
/// approvals stands, or names each conflict. Asked again for a workspace whose held
/// collapse was approved since, it reports that collapse.
pub fn collapse(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace"])?;
    let sws = session.own(args.id("workspace")?)?;
    if let Response::Sws(detail) = session.call(&Request::SwsShow(sws))? {
        match detail.summary.state {
            SwsState::Open => {}
            SwsState::Collapsed { seq } => {
                session.closed(sws);
                return Ok(collapsed(sws, seq, None));
            }
            closed @ SwsState::Discarded { .. } => {
                session.closed(sws);
                return Err(ToolError::Refused(format!(
                    "workspace {sws} is closed ({}); open a new one with workspace_open",
                    state_text(&closed)
                )));
            }
        }
    }
    let writ = session.writ();
    match session.call(&Request::SwsCollapse { sws, writ })? {
        Response::SwsRecorded { seq, hash, .. } => {
            session.closed(sws);
            Ok(collapsed(sws, seq, Some(hash)))
        }
        Response::SwsHeld(hold) => Ok(held(&hold)),
        Response::SwsConflicts(view) => {
            let conflicts: Vec<String> = view
                .conflicts
                .iter()
                .map(|c| {
                    format!(
                        "{}: the workspace {}; it was {} at the base; changed by record {}",
                        c.key, c.workspace_did, c.base, c.changed_at
                    )
                })
                .collect();
            Err(ToolError::Refused(format!(
                "workspace {sws} conflicts with {} (refusal recorded at {}): {}. Nothing was applied; \
                 open a new workspace and redo the work over the current system, or discard this one",
                view.target,
                view.seq,
                conflicts.join("; ")
            )))
        }
        other => Err(unexpected("a collapse", &other)),
    }
}

fn collapsed(sws: u64, seq: u64, hash: Option<String>) -> Value {
    json!({
        "workspace": sws,
        "collapsed": true,
        "record": seq,
        "hash": hash,
        "message": format!("workspace {sws} is now part of the system (record {seq})"),
    })
}

/// A collapse the policy holds for approvals, as the agent reads it.
fn held(hold: &SwsHold) -> Value {
    let sws = hold.sws;
    let (waiting_for, message) = match &hold.standing {
        HoldStanding::Waiting {
            count,
            from,
            approvals,
        } => (
            json!({ "approvals": approvals, "needed": count, "role": from.to_string() }),
            format!(
                "the policy holds the collapse of workspace {sws} for approvals ({}): {approvals} of \
                 {count} from {from} so far. People approve it with `jitos sws approve {sws}`; it \
                 commits itself with the last approval. Call collapse again later to see where it \
                 stands; changing the workspace meanwhile needs a new ruling",
                hold.why
            ),
        ),
        _ => (
            Value::Null,
            format!("the collapse of workspace {sws} stands: {}", hold.why),
        ),
    };
    json!({
        "workspace": sws,
        "collapsed": false,
        "held": true,
        "ruling": hold.why,
        "record": hold.ruling_seq,
        "waiting_for": waiting_for,
        "approved_by": hold.votes.iter().filter(|v| v.approve).map(|v| v.user.clone()).collect::<Vec<_>>(),
        "message": message,
    })
}

/// `workspace_discard`: ends the workspace with a recorded reason.
pub fn discard(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace", "reason"])?;
    let sws = session.own(args.id("workspace")?)?;
    let reason = args.str("reason")?.trim();
    if reason.is_empty() {
        return Err(ToolError::BadArgument(
            "argument `reason` is empty; say why, it is kept in the ledger".to_owned(),
        ));
    }
    match session.call(&Request::SwsDiscard {
        sws,
        reason: reason.to_owned(),
    })? {
        Response::SwsRecorded { seq, .. } => {
            session.closed(sws);
            Ok(json!({ "workspace": sws, "discarded": true, "record": seq }))
        }
        other => Err(unexpected("a discard", &other)),
    }
}

/// One file change as JSON; `None` for the root directory, which a tree gains with its
/// first file and which names nothing an agent wrote.
pub fn change_json(change: &TreeChange) -> Option<Value> {
    let (kind, path) = match change {
        TreeChange::Added { path, .. } => ("added", path),
        TreeChange::Removed { path, .. } => ("removed", path),
        TreeChange::Modified { path, .. } => ("modified", path),
    };
    (!path.is_root()).then(|| json!({ "change": kind, "path": path.as_str() }))
}

fn state_text(state: &SwsState) -> String {
    match state {
        SwsState::Open => "open".to_owned(),
        SwsState::Collapsed { seq } => format!("collapsed at {seq}"),
        SwsState::Discarded { seq, reason } => format!("discarded at {seq}: {reason}"),
    }
}

/// Cuts `text` to at most `max` bytes at a character boundary; whether it was cut.
pub fn truncate(text: &mut String, max: usize) -> bool {
    if text.len() <= max {
        return false;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}
