//! `jitos sws …`: create, inspect, change, collapse, rebase and discard workspaces.

use std::{fmt::Write as _, process::ExitCode};

use anyhow::{bail, Result};
use jitos_proto::{
    Client, ConflictView, HoldStanding, Request, Response, SwsDetail, SwsHold, SwsState, SwsSummary,
};

use crate::{
    cli::SwsCommand,
    commands::{emit_json, print, read_rewrite},
    render, tree_cmd,
};

/// Runs one `jitos sws` command against the daemon.
pub fn run(client: &mut Client, json: bool, command: SwsCommand) -> Result<ExitCode> {
    match command {
        SwsCommand::Create { at, parent } => {
            let response = client.call(&Request::SwsCreate { at, parent })?;
            print(json, response, |r| match r {
                Response::SwsRecorded { seq, .. } => Some(format!(
                    "created workspace {seq}\nchange it with `jitos sws apply {seq} FILE`, \
                     then `jitos sws collapse {seq}` or `jitos sws discard {seq} --reason TEXT`\n"
                )),
                _ => None,
            })
        }
        SwsCommand::List { page } => {
            let response = client.call(&Request::SwsList(page.request()))?;
            print(json, response, |r| match r {
                Response::SwsList(list) => Some(
                    list_text(&list.items)
                        + &list
                            .next
                            .map(|next| render::more("sws list", page.limit, &next))
                            .unwrap_or_default(),
                ),
                _ => None,
            })
        }
        SwsCommand::Show { id } => {
            let response = client.call(&Request::SwsShow(id))?;
            print(json, response, |r| match r {
                Response::Sws(detail) => Some(detail_text(detail)),
                _ => None,
            })
        }
        SwsCommand::Apply { id, file } => {
            let rewrite = read_rewrite(&file)?;
            let response = client.call(&Request::SwsApply { sws: id, rewrite })?;
            print(json, response, |r| {
                match r {
                Response::SwsRecorded { seq, hash, .. } => Some(format!(
                    "applied in workspace {id} at seq {seq} (the system is unchanged)\nhash {hash}\n"
                )),
                _ => None,
            }
            })
        }
        SwsCommand::Diff { id } => {
            let detail = match client.call(&Request::SwsShow(id))? {
                Response::Sws(detail) => detail,
                Response::Error(e) => bail!("{}", e.message),
                other => bail!("jitosd sent an unexpected answer: {other:?}"),
            };
            if json {
                emit_json(&serde_json::json!({
                    "changes": detail.changes,
                    "files": detail.files,
                }))?;
                return Ok(ExitCode::SUCCESS);
            }
            if !matches!(detail.summary.state, SwsState::Open) {
                bail!("workspace {id} is closed; `jitos sws show {id}` tells how it ended");
            }
            print!("{}", changes_text(&detail));
            tree_cmd::print_file_diffs(client, &detail.files)?;
            Ok(ExitCode::SUCCESS)
        }
        SwsCommand::Collapse { id, writ } => outcome(
            client,
            json,
            &Request::SwsCollapse { sws: id, writ },
            "collapsed",
        ),
        SwsCommand::Approve { id, comment } => {
            voted(client, json, id, true, comment.unwrap_or_default())
        }
        SwsCommand::Reject { id, reason } => voted(client, json, id, false, reason),
        SwsCommand::Rebase { id } => outcome(client, json, &Request::SwsRebase(id), "rebased"),
        SwsCommand::Discard { id, reason } => {
            let response = client.call(&Request::SwsDiscard { sws: id, reason })?;
            print(json, response, |r| match r {
                Response::SwsRecorded { seq, .. } => {
                    Some(format!("discarded workspace {id} at seq {seq}\n"))
                }
                _ => None,
            })
        }
    }
}

/// A vote on a held collapse: recorded, it exits 0 and says where the collapse stands
/// (committed, if it was the last approval it needed); the approval that commits it may
/// still meet conflicts, which fail as a collapse's do.
fn voted(
    client: &mut Client,
    json: bool,
    sws: u64,
    approve: bool,
    note: String,
) -> Result<ExitCode> {
    let response = client.call(&Request::SwsVote { sws, approve, note })?;
    if let Response::SwsHeld(hold) = &response {
        if json {
            emit_json(hold)?;
        } else {
            let verb = if approve { "approved" } else { "rejected" };
            print!("{verb}; {}", hold_text(hold));
        }
        return Ok(ExitCode::SUCCESS);
    }
    if matches!(response, Response::SwsConflicts(_)) && !json {
        println!("your approval was recorded, and was the last the collapse needed; but the system changed underneath it:");
    }
    answered(json, response, "approved and collapsed")
}

/// The exit status of a collapse that waits for approvals: not a failure, not done.
const EXIT_HELD: u8 = 3;

/// Collapse and rebase: success, the hold (exit 3; 1 when denied or rejected), or the
/// conflicts (exit 1).
fn outcome(client: &mut Client, json: bool, request: &Request, done: &str) -> Result<ExitCode> {
    let response = client.call(request)?;
    if let Response::SwsHeld(hold) = &response {
        if json {
            emit_json(hold)?;
        } else {
            print!("{}", hold_text(hold));
        }
        return Ok(match hold.standing {
            HoldStanding::Vetoed { .. } | HoldStanding::Denied => ExitCode::FAILURE,
            _ => ExitCode::from(EXIT_HELD),
        });
    }
    answered(json, response, done)
}

/// A workspace operation's answer: the record, or the conflicts and a failing exit.
fn answered(json: bool, response: Response, done: &str) -> Result<ExitCode> {
    if let Response::SwsConflicts(view) = &response {
        if json {
            emit_json(view)?;
        } else {
            print!("{}", conflicts_text(view));
        }
        return Ok(ExitCode::FAILURE);
    }
    print(json, response, |r| match r {
        Response::SwsRecorded { sws, seq, hash } => Some(format!(
            "{done} workspace {sws} at seq {seq}\nhash {hash}\n"
        )),
        _ => None,
    })
}

fn state_text(state: &SwsState) -> String {
    match state {
        SwsState::Open => "open".to_owned(),
        SwsState::Collapsed { seq } => format!("collapsed at {seq}"),
        SwsState::Discarded { seq, reason } => format!("discarded at {seq}: {reason}"),
    }
}

fn list_text(list: &[SwsSummary]) -> String {
    if list.is_empty() {
        return "no workspaces; create one with `jitos sws create`\n".to_owned();
    }
    let mut out = format!(
        "{:>6}  {:>6}  {:>8}  {:>8}  {:>6}  {:>6}  state\n",
        "id", "parent", "base", "changes", "reads", "writes"
    );
    for ws in list {
        let parent = ws.parent.map_or("-".to_owned(), |p| p.to_string());
        let _ = writeln!(
            out,
            "{:>6}  {:>6}  {:>8}  {:>8}  {:>6}  {:>6}  {}",
            ws.id,
            parent,
            ws.base_seq,
            ws.overlay_entries,
            ws.reads,
            ws.writes,
            state_text(&ws.state) + &held_text(ws.held.as_ref())
        );
    }
    out
}

fn detail_text(detail: &SwsDetail) -> String {
    let ws = &detail.summary;
    let over = match ws.parent {
        Some(parent) => format!("workspace {parent}"),
        None => "the system".to_owned(),
    };
    let mut out = format!(
        "workspace {}  ({})\nover {over} as of seq {}, depth {}\nfootprint: {} read, {} written\n",
        ws.id,
        state_text(&ws.state),
        ws.base_seq,
        ws.depth,
        ws.reads,
        ws.writes
    );
    out.push_str(&changes_text(detail));
    for file in &detail.files {
        let _ = writeln!(out, "file {}", file_change_line(file));
    }
    if let Some(hold) = &detail.hold {
        out.push_str(&hold_text(hold));
    }
    out
}

/// A list's note on a workspace whose collapse waits for approvals or was refused.
fn held_text(held: Option<&HoldStanding>) -> String {
    match held {
        Some(HoldStanding::Waiting {
            count,
            from,
            approvals,
        }) => format!(", collapse held: {approvals} of {count} approvals from {from}"),
        Some(HoldStanding::Denied) => ", collapse denied".to_owned(),
        Some(HoldStanding::Vetoed { user, .. }) => format!(", collapse rejected by {user}"),
        _ => String::new(),
    }
}

/// The ruling on a workspace's collapse, where it stands, and its votes.
fn hold_text(hold: &SwsHold) -> String {
    let sws = hold.sws;
    let standing = match &hold.standing {
        HoldStanding::Allowed => "allowed".to_owned(),
        HoldStanding::Denied => "denied".to_owned(),
        HoldStanding::Waiting {
            count,
            from,
            approvals,
        } => format!(
            "waiting for approvals: {approvals} of {count} from {from}; `jitos sws approve {sws}` or `jitos sws reject {sws} --reason WHY` (as another user holding {from})"
        ),
        HoldStanding::Approved => "approved".to_owned(),
        HoldStanding::Vetoed { user, note } => format!("rejected by {user}: {note}"),
    };
    let mut out = format!(
        "collapse ruled at seq {}: {}
  {standing}
",
        hold.ruling_seq, hold.why
    );
    if !hold.current {
        out.push_str(
            "  the workspace or the policy changed since: the next collapse is ruled on again
",
        );
    }
    for vote in &hold.votes {
        let verb = if vote.approve { "approved" } else { "rejected" };
        let note = match vote.note.is_empty() {
            true => String::new(),
            false => format!(": {}", vote.note),
        };
        let _ = writeln!(
            out,
            "  {} (uid {}) {verb} at seq {}{note}",
            vote.user, vote.uid, vote.seq
        );
    }
    out
}

fn changes_text(detail: &SwsDetail) -> String {
    if detail.changes.is_empty() {
        return "no changes against the base\n".to_owned();
    }
    let mut out = String::new();
    for change in &detail.changes {
        let _ = writeln!(out, "{}: {} -> {}", change.key, change.base, change.now);
    }
    out
}

fn file_change_line(change: &jitos_tree::TreeChange) -> String {
    match change {
        jitos_tree::TreeChange::Added { path, .. } => format!("added    {path}"),
        jitos_tree::TreeChange::Removed { path, .. } => format!("removed  {path}"),
        jitos_tree::TreeChange::Modified { path, .. } => format!("modified {path}"),
    }
}

fn conflicts_text(view: &ConflictView) -> String {
    let mut out = format!(
        "workspace {} conflicts with {} (recorded at seq {}): {} key(s) changed there since its base at seq {}\n",
        view.sws,
        view.target,
        view.seq,
        view.conflicts.len(),
        view.base_seq
    );
    for conflict in &view.conflicts {
        let _ = writeln!(
            out,
            "  {}: the workspace {}; it was {} at the base; changed by record {} \
             (see `jitos log --from {} --limit 1`)",
            conflict.key,
            conflict.workspace_did,
            conflict.base,
            conflict.changed_at,
            conflict.changed_at
        );
    }
    out.push_str(&format!(
        "nothing was applied. Redo the work in a new workspace (`jitos sws create`), or \
         discard this one (`jitos sws discard {} --reason TEXT`)\n",
        view.sws
    ));
    out
}
