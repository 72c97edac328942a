//! The daemon's built-in job, `materialize`: it writes its workspace's files (those within
//! the job's paths and its process's writ) into a directory on this host, outside every
//! workspace — an effect of class `local`. The directory must lie under one the operator
//! granted (`jitosd --output-root DIR`). The files are staged beside it and swapped in
//! whole (`jitos_treefs::materialize`), so a crash leaves the old directory or the new one,
//! never a mix. It runs in the daemon, not in a sandbox: it reads only what the kernel
//! holds and writes only under a granted root.
//!
//! `args = ["write", DIR]` writes; `["verify", DIR]` exits 0 if DIR holds exactly those
//! files and 1 if not (a step's `verify`); `["remove", DIR]` removes DIR (a `compensate`).
//! A refusal (a directory outside the granted roots, bad arguments) or a write that failed
//! before the swap ends with a non-zero status: it did not take effect. A verify that
//! cannot look (a symlink on the way, an unreadable directory) ends as a worker failure,
//! which is no verdict: a person is asked.

use std::{
    path::{Component, Path, PathBuf},
    sync::Arc,
};

use jitos_kernel::{Command, FailureCause, Proposed};
use jitos_ledger::Actor;
use jitos_tasks::MATERIALIZE;
use jitos_tree::{within_prefixes, Tree};
use jitos_treefs::{matches, materialize, unmaterialize, FetchError, MaterializeError};

use super::{attempt_span, JobRunner, ProcessJob};

/// A recorded attempt of the built-in.
pub(crate) struct BuiltinPlan {
    /// The attempt (its dispatch record's seq).
    pub attempt: u64,
    /// Its process and job.
    pub process: ProcessJob,
    /// The workspace whose files it writes.
    pub sws: u64,
    /// Its arguments.
    pub args: Vec<String>,
    /// The tree paths it writes; empty for the whole tree.
    pub paths: Vec<String>,
    /// The idempotency key of the effect it makes or checks (names its staging directory).
    pub key: String,
}

/// What the built-in was asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Write,
    Verify,
    Remove,
}

/// Exit status of a refused or failed write: it did not take effect.
const NOT_DONE: i32 = 2;

impl JobRunner {
    /// Runs a recorded attempt of the built-in to its terminal record, off the async
    /// threads.
    pub(crate) async fn run_builtin(self: &Arc<Self>, plan: BuiltinPlan) {
        let runner = Arc::clone(self);
        let attempt = plan.attempt;
        let ran = tokio::task::spawn_blocking(move || {
            let _in_attempt =
                attempt_span(plan.attempt, MATERIALIZE, plan.sws, Some(&plan.process)).entered();
            let command = match runner.materialize_job(&plan) {
                Ok((status, summary)) => Command::JobPropose {
                    attempt: plan.attempt,
                    proposed: Proposed {
                        rewrites: Vec::new(),
                        artifacts: vec![("materialize".to_owned(), summary.into_bytes())],
                        exit_status: status,
                        cpu_ms: 0,
                        max_rss_kib: 0,
                    },
                },
                // It could not say: a verify that could not look is no verdict.
                Err(detail) => Command::JobFail {
                    attempt: plan.attempt,
                    cause: FailureCause::Worker,
                    detail,
                },
            };
            let recorded = runner.kernel.execute_blocking(Actor::System, command);
            super::report_end(plan.attempt, recorded);
        })
        .await;
        if let Err(e) = ran {
            let failed = Command::JobFail {
                attempt,
                cause: FailureCause::Crashed,
                detail: format!("the built-in materialize stopped: {e}"),
            };
            super::report_end(attempt, self.kernel.execute(Actor::System, failed).await);
        }
    }

    /// The exit status and summary of one run, or why a verify could not tell.
    fn materialize_job(&self, plan: &BuiltinPlan) -> Result<(i32, String), String> {
        let (mode, dir) = match parse_args(&plan.args) {
            Ok(parsed) => parsed,
            Err(why) => return Ok((NOT_DONE, why)),
        };
        let target = match granted(&self.config.output_roots, dir) {
            Ok(target) => target,
            Err(why) if mode == Mode::Verify => return Err(why),
            Err(why) => return Ok((NOT_DONE, why)),
        };
        let view = self.kernel.view();
        let writ_paths = view
            .state()
            .writs
            .of_process(plan.process.id)
            .map(|writ| writ.writ.paths.clone());
        let tree = match view.sws_tree(plan.sws) {
            Ok(tree) => scoped(&tree, &plan.paths, writ_paths.as_ref()),
            Err(e) if mode == Mode::Verify => {
                return Err(format!("cannot read workspace {}: {e}", plan.sws))
            }
            Err(e) => return Ok((NOT_DONE, format!("cannot read workspace {}: {e}", plan.sws))),
        };
        let shown = target.display();
        Ok(match mode {
            Mode::Write => {
                let written = materialize(&target, &tree, &plan.key, |refs| {
                    view.get_blobs(refs).map_err(FetchError::from)
                });
                match written {
                    Ok(done) => (
                        0,
                        format!(
                            "wrote {} files ({} bytes) to {shown}{}",
                            done.files,
                            done.bytes,
                            if done.replaced {
                                ", replacing what was there"
                            } else {
                                ""
                            }
                        ),
                    ),
                    // The new tree is in place; only the old one's removal failed.
                    Err(e @ MaterializeError::RemoveOld { .. }) => (0, e.to_string()),
                    // In place, but perhaps not for good: no verdict (verify, or a person).
                    Err(e @ MaterializeError::Swapped { .. }) => return Err(e.to_string()),
                    Err(e) => (NOT_DONE, format!("nothing was written to {shown}: {e}")),
                }
            }
            Mode::Verify => match matches(&target, &tree) {
                Ok(true) => (0, format!("{shown} holds the workspace's files")),
                Ok(false) => (1, format!("{shown} does not hold the workspace's files")),
                Err(e) => return Err(format!("cannot read {shown}: {e}")),
            },
            Mode::Remove => match unmaterialize(&target) {
                Ok(true) => (0, format!("removed {shown}")),
                Ok(false) => (0, format!("{shown} was not there")),
                Err(e) => (NOT_DONE, format!("cannot remove {shown}: {e}")),
            },
        })
    }
}

fn parse_args(args: &[String]) -> Result<(Mode, &Path), String> {
    let usage = "the built-in materialize takes [\"write\" | \"verify\" | \"remove\", DIR]";
    let [mode, dir] = args else {
        return Err(format!("{usage}, not {} arguments", args.len()));
    };
    let mode = match mode.as_str() {
        "write" => Mode::Write,
        "verify" => Mode::Verify,
        "remove" => Mode::Remove,
        other => return Err(format!("{usage}, not {other:?}")),
    };
    Ok((mode, Path::new(dir)))
}

/// `dir` if it lies strictly under one of the granted `roots` (both absolute and clean:
/// no `.` or `..`), so the built-in never writes a root itself or outside one.
fn granted(roots: &[PathBuf], dir: &Path) -> Result<PathBuf, String> {
    let clean = |path: &Path| {
        path.is_absolute()
            && path
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)))
    };
    if !clean(dir) || dir.to_string_lossy().contains("/./") {
        return Err(format!(
            "{} is not an absolute path without . or .. components",
            dir.display()
        ));
    }
    if roots.is_empty() {
        return Err(
            "no output directory is granted: start jitosd with --output-root DIR".to_owned(),
        );
    }
    match roots
        .iter()
        .find(|root| clean(root) && dir.starts_with(root) && dir != root.as_path())
    {
        Some(_) => Ok(dir.to_path_buf()),
        None => Err(format!(
            "{} is not under a granted output root ({})",
            dir.display(),
            roots
                .iter()
                .map(|r| r.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The entries of `tree` within `paths` (all when empty) and the writ's path scope.
fn scoped(tree: &Tree, paths: &[String], writ: Option<&jitos_gov::writ::Scope>) -> Tree {
    let mut kept = Tree::new();
    for (path, entry) in &tree.entries {
        let name = path.as_str();
        let in_writ = writ.is_none_or(|scope| name.is_empty() || scope.covers_path(name));
        if in_writ && (name.is_empty() || within_prefixes(name, paths)) {
            kept.insert(path.clone(), entry.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn only_directories_strictly_under_a_granted_root_are_granted() {
        let roots = vec![PathBuf::from("/srv/out")];
        assert!(granted(&roots, Path::new("/srv/out/a")).is_ok());
        assert!(granted(&roots, Path::new("/srv/out/a/b")).is_ok());
        for refused in [
            "/srv/out",
            "/srv/outer/a",
            "/srv/out/../etc",
            "srv/out/a",
            "/etc",
        ] {
            assert!(granted(&roots, Path::new(refused)).is_err(), "{refused}");
        }
        let none = granted(&[], Path::new("/srv/out/a")).unwrap_err();
        assert!(none.contains("--output-root"), "{none}");
    }

    #[test]
    fn arguments_name_a_mode_and_a_directory() {
        let args = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_args(&args(&["verify", "/d"])).unwrap(),
            (Mode::Verify, Path::new("/d"))
        );
        assert!(parse_args(&args(&["copy", "/d"])).is_err());
        assert!(parse_args(&args(&["write"])).is_err());
    }
}
