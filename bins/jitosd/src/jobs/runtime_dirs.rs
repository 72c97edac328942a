//! What a daemon keeps for its workers outside its data directory (which only its own uid
//! may enter): the scratch root and the worker store in the temporary directory, and its
//! control group; and the sweep of what daemons that were killed left of theirs.
//!
//! Each daemon names these after its data directory (`<tag>`, from a hash of its path)
//! and holds `jitos-<tag>.lock` in the temporary directory while it runs. A daemon stopping cleanly removes its own; a start
//! removes those of every other tag whose lock no one holds: a daemon killed with SIGKILL
//! whose data directory is never started again leaves nothing behind for good.

use std::{
    fs::File,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
};

use jitos_sandbox::CgroupRoot;
use nix::fcntl::{Flock, FlockArg};

/// Where one daemon keeps what its workers are given.
#[derive(Debug, Clone)]
pub struct RunnerDirs {
    /// Each attempt's scratch directory is made under this.
    pub scratch_root: PathBuf,
    /// The worker store.
    pub store: PathBuf,
    /// The name of this daemon's control group.
    pub cgroup_name: String,
    /// The lock held while the daemon runs.
    lock: PathBuf,
}

const LOCK_PREFIX: &str = "jitos-";
const LOCK_SUFFIX: &str = ".lock";

impl RunnerDirs {
    /// The directories of the daemon whose data directory is tagged `tag`, under `tmp`.
    pub fn in_tmp(tmp: &Path, tag: &str) -> RunnerDirs {
        RunnerDirs {
            scratch_root: tmp.join(format!("jitos-scratch-{tag}")),
            store: tmp.join(format!("jitos-workers-{tag}")),
            cgroup_name: format!("jitos-{tag}"),
            lock: tmp.join(format!("{LOCK_PREFIX}{tag}{LOCK_SUFFIX}")),
        }
    }

    /// Takes this daemon's lock (waiting while another start sweeps its directories).
    pub fn hold(&self) -> std::io::Result<Flock<File>> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
            .open(&self.lock)?;
        Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| errno.into())
    }

    /// Removes the directories and control group of every other daemon tagged in the
    /// same temporary directory whose lock no one holds; `cgroups` is this daemon's own
    /// group root, beside which theirs are. Returns how many were swept.
    pub fn sweep_others(&self, cgroups: Option<&CgroupRoot>) -> usize {
        let Some(tmp) = self.lock.parent() else {
            return 0;
        };
        let Ok(entries) = std::fs::read_dir(tmp) else {
            return 0;
        };
        let mut swept = 0;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(tag) = name
                .to_str()
                .and_then(|n| n.strip_prefix(LOCK_PREFIX))
                .and_then(|n| n.strip_suffix(LOCK_SUFFIX))
            else {
                continue;
            };
            let other = RunnerDirs::in_tmp(tmp, tag);
            if other.lock == self.lock {
                continue;
            }
            let Some(_held) = File::options()
                .write(true)
                .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
                .open(&other.lock)
                .ok()
                .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok())
            else {
                continue;
            };
            if let Some(cgroups) = cgroups {
                cgroups.remove_sibling(&other.cgroup_name);
            }
            for dir in [&other.scratch_root, &other.store] {
                if let Err(e) = std::fs::remove_dir_all(dir) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot remove what a killed jitosd left");
                    }
                }
            }
            swept += 1;
        }
        swept
    }
}
