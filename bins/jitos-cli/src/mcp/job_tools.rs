//! `job_run`: a job on a sandboxed worker in a workspace, waited for, with what it printed
//! and the files it changed there.

use jitos_proto::{AttemptState, JobSpec, Request, Response};
use jitos_tree::diff_trees;
use jitos_warp::BlobRef;
use serde_json::{json, Value};

use super::{
    daemon::Session,
    file_tools::fetch_tree,
    tools::{unexpected, Args, ToolError},
    workspace_tools::{change_json, truncate},
    OUTPUT_BYTES_MAX,
};
use crate::tree_cmd;

/// The artifacts that hold a command's captured output.
const OUTPUT_ARTIFACTS: [&str; 2] = ["stdout", "stderr"];

/// Arguments in one command, and bytes in all of them: far more than any test command
/// needs, well within a frame.
const COMMAND_ARGS_MAX: usize = 256;
const COMMAND_BYTES_MAX: usize = 64 * 1024;

/// `job_run`.
pub fn run(session: &mut Session, args: &Args) -> Result<Value, ToolError> {
    args.only(&["workspace", "command", "worker", "paths", "timeout_secs"])?;
    let sws = session.own(args.id("workspace")?)?;
    let command = args
        .opt_strings("command")?
        .ok_or_else(|| ToolError::BadArgument("argument `command` is required".to_owned()))?;
    if command.is_empty() {
        return Err(ToolError::BadArgument(
            "argument `command` is empty; give the argv, e.g. [\"sh\", \"-c\", \"make test\"]"
                .to_owned(),
        ));
    }
    if command.len() > COMMAND_ARGS_MAX
        || command.iter().map(String::len).sum::<usize>() > COMMAND_BYTES_MAX
    {
        return Err(ToolError::BadArgument(format!(
            "argument `command` is over {COMMAND_ARGS_MAX} arguments or {COMMAND_BYTES_MAX} bytes; put a long script in a file with file_write and run that"
        )));
    }
    let worker = args.opt_str("worker")?.unwrap_or("shell").to_owned();
    let paths = args.opt_strings("paths")?.unwrap_or_default();
    let deadline_ms = args
        .opt_positive("timeout_secs")?
        .map(|secs| (secs * 1000.0).ceil().min(u64::MAX as f64) as u64);
    let before = fetch_tree(session, Some(sws))?;
    let spec = JobSpec {
        worker,
        sws,
        args: command,
        input: Vec::new(),
        deadline_ms,
        paths,
        wait: true,
        writ: session.writ(),
    };
    let view = match session.call(&Request::JobRun(spec))? {
        Response::Job(view) => view,
        other => return Err(unexpected("a waited job", &other)),
    };
    let after = fetch_tree(session, Some(sws))?;
    let changes: Vec<Value> = diff_trees(&before, &after)
        .iter()
        .filter_map(change_json)
        .collect();
    let mut result = json!({
        "workspace": sws,
        "attempt": view.id,
        "worker": view.worker,
        "state": view.state.to_string(),
        "files_changed": changes,
    });
    match &view.state {
        AttemptState::Done {
            exit_status,
            artifacts,
            ..
        } => {
            result["ended"] = json!("done");
            result["exit_status"] = json!(exit_status);
            result["passed"] = json!(*exit_status == 0);
            for name in OUTPUT_ARTIFACTS {
                if let Some((_, blob)) = artifacts.iter().find(|(n, _)| n == name) {
                    result[name] = json!(output(session, blob)?);
                }
            }
        }
        AttemptState::Failed { cause, detail, .. } => {
            result["ended"] = json!("failed");
            result["passed"] = json!(false);
            result["cause"] = json!(cause);
            result["detail"] = json!(detail);
        }
        AttemptState::Refused { reason, .. } => {
            result["ended"] = json!("refused");
            result["passed"] = json!(false);
            result["reason"] = json!(reason);
        }
        AttemptState::Running => result["ended"] = json!("running"),
    }
    Ok(result)
}

/// A captured output artifact as text, cut to half of [`OUTPUT_BYTES_MAX`].
fn output(session: &mut Session, blob: &str) -> Result<String, ToolError> {
    let blob: BlobRef = blob
        .parse()
        .map_err(|e| ToolError::Daemon(format!("jitosd named an unreadable blob {blob}: {e}")))?;
    let bytes = session
        .with_client(|client| tree_cmd::fetch_blobs(client, vec![blob]))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    if truncate(&mut text, OUTPUT_BYTES_MAX / 2) {
        text.push_str("\n[… cut: the output is longer]");
    }
    Ok(text)
}
