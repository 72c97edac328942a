//! `jitos-worker-shell`: runs the job's command in the job's workspace and proposes, as
//! one rewrite, the file changes it made, with its output and new file contents as
//! artifacts and its exit code as the proposal's status.
//!
//! The daemon writes the workspace's files into `Job.workspace_dir` and takes the
//! command from `Job.args`. A non-zero exit is still a proposal: the status is data for
//! the kernel and the person, not a failure of the worker.

mod command;

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use jitos_tree::{sync_rewrite, Tree, TreePath};
use jitos_warp::BlobRef;
use jitos_worker::{
    limits::{ARTIFACTS_PER_PROPOSAL_MAX, ARTIFACT_BYTES_TOTAL_MAX, ARTIFACT_NAME_BYTES_MAX},
    Artifact, Context, Handler, Job, Outcome,
};

use crate::command::{Running, OUTPUT_BYTES_MAX};

/// How long before the job's deadline the command is killed at the latest, so the
/// failure reaches the daemon before the daemon's own kill; a tenth of short deadlines.
const DEADLINE_MARGIN_MS_MAX: u64 = 100;

/// How often the worker tells the daemon it is alive while the command runs.
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(1);

/// Longest pause between two looks at the command, the cancel flag and the deadline.
const POLL_INTERVAL_MAX: Duration = Duration::from_millis(20);

/// Prefix of the artifact holding a new file's content; the rest is its tree path.
const FILE_ARTIFACT_PREFIX: &str = "files/";

/// The handler: one command per job.
struct Shell;

impl Handler for Shell {
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
        // Capped so the sum cannot overflow an `Instant`; 49 days is no deadline at all.
        let deadline_ms = job.deadline_ms.min(u64::from(u32::MAX));
        let margin_ms = (deadline_ms / 10).min(DEADLINE_MARGIN_MS_MAX);
        let deadline = Instant::now() + Duration::from_millis(deadline_ms - margin_ms);
        let workspace = workspace_of(job)?;
        if job.args.is_empty() {
            return Err("the shell worker needs a command: the job's args are empty".to_owned());
        }
        let before = jitos_treefs::read_tree(&workspace)
            .map_err(|e| format!("cannot read the workspace before the command: {e}"))?;

        let mut running = Running::spawn(&job.args, &workspace)?;
        wait(&mut running, job, deadline, ctx)?;
        let finished = running.finish(deadline)?;

        let (after, files) = read_after(&workspace, &before)?;
        let rewrites = if after == before {
            Vec::new()
        } else {
            vec![sync_rewrite(&before, &after)
                .map_err(|e| format!("cannot propose the command's changes: {e}"))?]
        };
        let exit_status = finished.exit_status();
        let mut artifacts = vec![
            Artifact {
                name: "stdout".to_owned(),
                bytes: finished.stdout.into_bytes(),
            },
            Artifact {
                name: "stderr".to_owned(),
                bytes: finished.stderr.into_bytes(),
            },
        ];
        artifacts.extend(files);
        check_artifacts(&artifacts)?;
        Ok(Outcome {
            rewrites,
            artifacts,
            exit_status,
        })
    }
}

/// The job's workspace: present, absolute, and a directory.
fn workspace_of(job: &Job) -> Result<PathBuf, String> {
    let dir = job.workspace_dir.as_deref().ok_or_else(|| {
        "the shell worker needs a workspace: the job has no workspace_dir (its writ grants \
         none)"
            .to_owned()
    })?;
    let path = Path::new(dir);
    if !path.is_absolute() {
        return Err(format!("the workspace_dir {dir:?} is not an absolute path"));
    }
    if !path.is_dir() {
        return Err(format!("the workspace_dir {dir} is not a directory"));
    }
    Ok(path.to_owned())
}

/// Waits for the command to exit, killing it on cancel or at the deadline.
fn wait(
    running: &mut Running,
    job: &Job,
    deadline: Instant,
    ctx: &mut Context<'_>,
) -> Result<(), String> {
    let mut pause = Duration::from_millis(1);
    let mut last_beat = Instant::now();
    loop {
        if running.has_exited()? {
            return Ok(());
        }
        // Returning drops `running`, which kills the command's process group.
        if ctx.is_cancelled() {
            return Err("cancelled: the command was killed".to_owned());
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "the command passed the job's deadline of {} ms and was killed",
                job.deadline_ms
            ));
        }
        if last_beat.elapsed() >= HEARTBEAT_INTERVAL {
            ctx.heartbeat()
                .map_err(|e| format!("lost the daemon while the command ran: {e}"))?;
            last_beat = Instant::now();
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(POLL_INTERVAL_MAX);
    }
}

/// Walks the workspace after the command, returning its tree and one `files/<path>`
/// artifact per content the `before` tree did not hold (named after the first path, in
/// path order, that holds it).
fn read_after(workspace: &Path, before: &Tree) -> Result<(Tree, Vec<Artifact>), String> {
    let known: BTreeSet<BlobRef> = before.blobs();
    let mut seen = BTreeSet::new();
    let mut files = Vec::new();
    let mut bytes_total = 0usize;
    let after = jitos_treefs::walk(workspace)
        .and_then(|walked| {
            walked.read_contents(|path: &TreePath, blob, bytes| {
                if known.contains(&blob) || !seen.insert(blob) {
                    return;
                }
                bytes_total = bytes_total.saturating_add(bytes.len());
                // Past the limit the proposal fails below; keeping more would only cost memory.
                if bytes_total <= ARTIFACT_BYTES_TOTAL_MAX {
                    files.push(Artifact {
                        name: format!("{FILE_ARTIFACT_PREFIX}{}", path.as_str()),
                        bytes,
                    });
                }
            })
        })
        .map_err(|e| format!("cannot read the workspace after the command: {e}"))?;
    let room = ARTIFACT_BYTES_TOTAL_MAX.saturating_sub(2 * OUTPUT_BYTES_MAX);
    if bytes_total > room {
        return Err(format!(
            "the command wrote {bytes_total} bytes of new file content; a proposal carries \
             at most {room} beside the command's output"
        ));
    }
    Ok((after, files))
}

/// Refuses, with a reason a person can act on, artifacts the protocol would refuse.
fn check_artifacts(artifacts: &[Artifact]) -> Result<(), String> {
    if artifacts.len() > ARTIFACTS_PER_PROPOSAL_MAX {
        return Err(format!(
            "the command wrote {} files with new content; a proposal carries at most {}",
            artifacts.len() - 2,
            ARTIFACTS_PER_PROPOSAL_MAX - 2
        ));
    }
    if let Some(long) = artifacts
        .iter()
        .find(|a| a.name.len() > ARTIFACT_NAME_BYTES_MAX)
    {
        return Err(format!(
            "the new file {} has a path too long to name its artifact (at most {} bytes)",
            &long.name[FILE_ARTIFACT_PREFIX.len()..],
            ARTIFACT_NAME_BYTES_MAX - FILE_ARTIFACT_PREFIX.len()
        ));
    }
    Ok(())
}

fn main() -> ExitCode {
    jitos_worker::run("shell", env!("CARGO_PKG_VERSION"), Shell)
}
