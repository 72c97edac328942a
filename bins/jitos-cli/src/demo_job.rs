//! The demo's job step: the `shell` worker runs a command in a workspace, confined; what
//! it changed is a proposal the kernel checks and applies to the workspace only, and what
//! it tried beyond its sandbox was refused. Then the workspace collapses.

use anyhow::{bail, Result};
use jitos_proto::{AttemptState, Client, JobSpec, Request, Response};

use crate::{job_cmd::create_workspace, tree_cmd};

/// The command: write the fix's notes, then try to leave the sandbox three ways.
const SCRIPT: &str =
    "echo 'the flaky test waited on a timer; it now waits on the event' > NOTES.md; \
     echo \"worker uid: $(id -u)\"; \
     echo x > /etc/jitos-demo 2>/dev/null || echo 'write to /etc: refused'; \
     cat /proc/1/environ > /dev/null 2>&1 || echo 'read of /proc/1: refused'; \
     ls /root > /dev/null 2>&1 || echo 'look into /root: refused'";

pub fn run(client: &mut Client) -> Result<()> {
    let sws = create_workspace(client)?;
    let spec = JobSpec {
        worker: "shell".to_owned(),
        sws,
        args: vec!["sh".to_owned(), "-c".to_owned(), SCRIPT.to_owned()],
        input: Vec::new(),
        deadline_ms: Some(30_000),
        paths: vec!["NOTES.md".to_owned()],
        wait: true,
    };
    let view = match client.call(&Request::JobRun(spec))? {
        Response::Job(view) => view,
        Response::Error(e) => bail!(
            "the demo's shell job was refused: {}\n(the worker binaries are built by \
             ./scripts/demo.sh; `cargo build --bins` builds them too)",
            e.message
        ),
        other => bail!("the demo's shell job got an unexpected answer: {other:?}"),
    };
    let AttemptState::Done { seq, artifacts, .. } = &view.state else {
        bail!("the demo's shell job did not succeed: {:?}", view.state);
    };
    println!(
        "   seq {:>2}  job.dispatch: attempt {} to worker shell in workspace {sws}, may touch NOTES.md",
        view.id, view.id
    );
    println!("   seq {seq:>2}  job.done: its proposal was checked and applied to workspace {sws}");
    if let Some((_, blob)) = artifacts.iter().find(|(name, _)| name == "stdout") {
        let blob = blob
            .parse()
            .map_err(|e| anyhow::anyhow!("jitosd named an unreadable blob {blob}: {e}"))?;
        let stdout = tree_cmd::fetch_blobs(client, vec![blob])?;
        for line in String::from_utf8_lossy(stdout.concat().as_slice()).lines() {
            println!("           the command printed: {line}");
        }
    }
    let files_in = |client: &mut Client, sws: Option<u64>| -> Result<usize> {
        let tree = tree_cmd::fetch_tree(client, tree_cmd::TreeSource { sws, at: None })?;
        Ok(tree.file_count())
    };
    println!(
        "   files: {} in workspace {sws}, {} in the system",
        files_in(client, Some(sws))?,
        files_in(client, None)?
    );
    match client.call(&Request::SwsCollapse(sws))? {
        Response::SwsRecorded { seq, .. } => println!(
            "   seq {seq:>2}  workspace {sws} collapsed: the system now has {} file (NOTES.md)",
            files_in(client, None)?
        ),
        other => bail!("the demo's collapse failed: {other:?}"),
    }
    Ok(())
}
