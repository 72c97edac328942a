//! Scratch space and identities for attempts: a private directory per attempt, and when
//! the daemon is root, an unprivileged uid per running worker that owns nothing else.

use std::{
    collections::BTreeSet,
    fs::File,
    os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use nix::{
    fcntl::{Flock, FlockArg},
    unistd::{Gid, Uid},
};

use crate::reply::lock;

/// First uid handed to workers. Far above any account a distribution creates, so a worker
/// shares its uid with no process and owns no file but its scratch.
const WORKER_UID_BASE: u32 = 0x4A49_0000;
/// Workers that may run at once under their own uids, across every jitosd on the host.
const WORKER_UIDS_MAX: u32 = 4096;

/// The uids workers run under, one per running worker. A uid is held by an exclusive
/// `flock` on its file in a host-wide directory, so two daemons on one host never lend the
/// same uid, and a daemon sweeping strays never kills another daemon's worker.
#[derive(Debug, Clone)]
pub struct UidPool {
    in_use: Arc<Mutex<BTreeSet<u32>>>,
    /// Where the uid lock files are; `None` when workers run as the daemon's own uid.
    locks: Option<PathBuf>,
}

/// A uid lent to one worker; given back when dropped.
#[derive(Debug)]
pub struct WorkerUid {
    uid: Option<u32>,
    /// Held for as long as the uid is lent.
    _lock: Option<Flock<File>>,
    pool: UidPool,
}

impl WorkerUid {
    /// The uid to run as, or `None` to run as the daemon's own uid.
    pub fn uid(&self) -> Option<u32> {
        self.uid
    }
}

impl Drop for WorkerUid {
    fn drop(&mut self) {
        if let Some(uid) = self.uid {
            lock(&self.pool.in_use).remove(&uid);
        }
    }
}

impl UidPool {
    /// Separate uids only when the daemon is root, locked under `lock_dir` (a directory
    /// of root's, 0700); otherwise workers run as the daemon's uid, which has nothing to
    /// drop.
    pub fn new(lock_dir: &Path) -> std::io::Result<UidPool> {
        let locks = if Uid::effective().is_root() {
            owned_dir(lock_dir, 0o700)?;
            Some(lock_dir.to_owned())
        } else {
            None
        };
        Ok(UidPool {
            in_use: Arc::default(),
            locks,
        })
    }

    /// Whether workers get their own uids.
    pub fn separate(&self) -> bool {
        self.locks.is_some()
    }

    /// Lends the lowest uid no worker of any daemon holds, or `None` when all are held.
    pub fn lend(&self) -> Option<WorkerUid> {
        let Some(dir) = &self.locks else {
            return Some(WorkerUid {
                uid: None,
                _lock: None,
                pool: self.clone(),
            });
        };
        let mut in_use = lock(&self.in_use);
        for uid in WORKER_UID_BASE..WORKER_UID_BASE + WORKER_UIDS_MAX {
            if in_use.contains(&uid) {
                continue;
            }
            if let Some(held) = try_hold(dir, uid) {
                in_use.insert(uid);
                return Some(WorkerUid {
                    uid: Some(uid),
                    _lock: Some(held),
                    pool: self.clone(),
                });
            }
        }
        None
    }

    /// Kills every process that runs under a worker uid no daemon holds: what workers of a
    /// daemon that was killed left behind (children that escaped their process group).
    /// Returns how many uids had strays.
    pub fn kill_strays(&self) -> usize {
        let Some(dir) = &self.locks else {
            return 0;
        };
        let mut swept = 0;
        for uid in running_worker_uids() {
            if lock(&self.in_use).contains(&uid) {
                continue;
            }
            // Held for the sweep, so no other daemon lends the uid meanwhile.
            let Some(_held) = try_hold(dir, uid) else {
                continue;
            };
            match jitos_sandbox::kill_uid(uid) {
                Ok(()) => swept += 1,
                Err(e) => tracing::warn!(uid, error = %e, "cannot kill a stray worker uid"),
            }
        }
        swept
    }
}

/// Takes the lock of `uid`, unless another holder has it.
fn try_hold(dir: &Path, uid: u32) -> Option<Flock<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(nix::fcntl::OFlag::O_NOFOLLOW.bits())
        .open(dir.join(uid.to_string()))
        .ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// The worker-range uids that own a process now, from `/proc`.
fn running_worker_uids() -> BTreeSet<u32> {
    let range = WORKER_UID_BASE..WORKER_UID_BASE + WORKER_UIDS_MAX;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter_map(|entry| entry.metadata().ok())
        .map(|meta| meta.uid())
        .filter(|uid| range.contains(uid))
        .collect()
}

/// Creates the scratch root, emptied of what attempts of a daemon that was killed left:
/// world-traversable but not listable, so a worker uid can reach its own directory and see
/// no other. Only this daemon uses it: it holds the data directory's lock.
pub fn create_root(root: &Path) -> std::io::Result<()> {
    if root.exists() {
        // A worker of the killed daemon may still be dying and writing into it: move it
        // aside in one rename, then remove what can be removed.
        let aside = root.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(root, &aside)?;
        if let Err(e) = std::fs::remove_dir_all(&aside) {
            tracing::warn!(dir = %aside.display(), error = %e, "cannot remove old scratch");
        }
    }
    owned_dir(root, 0o711)
}

/// Makes `dir` (its parent must exist), or takes the one there only if it is a real
/// directory of this uid: in a shared temporary directory anyone may have made it first,
/// and root would then write where they can swap things. It ends with exactly `mode`.
fn owned_dir(dir: &Path, mode: u32) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    let uid = Uid::effective().as_raw();
    if !meta.is_dir() || meta.uid() != uid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of uid {uid} (it is owned by uid {}); someone else \
                 made it, so jitosd will not use it: remove it and start jitosd again",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    // Not a symlink, and in a sticky directory only its owner may move it away.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// One attempt's scratch: the worker's read-write directory and, inside it, where the
/// workspace's files are written.
#[derive(Debug)]
pub struct Scratch {
    /// The worker's directory (its cwd).
    pub dir: PathBuf,
    /// Where the job's workspace files go.
    pub workspace_dir: PathBuf,
    /// Where the worker's stderr goes (outside `dir`, so the worker cannot rewrite it
    /// after the fact).
    pub stderr_path: PathBuf,
}

impl Scratch {
    /// Creates an empty private directory for `attempt` under `root`.
    pub fn create(root: &Path, attempt: u64) -> std::io::Result<Scratch> {
        let dir = root.join(attempt.to_string());
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch {
            workspace_dir: dir.join("ws"),
            stderr_path: root.join(format!("{attempt}.stderr")),
            dir,
        })
    }

    /// Gives the whole scratch directory to `uid`, so a worker running as it may write.
    pub fn give_to(&self, uid: u32) -> std::io::Result<()> {
        chown_tree(&self.dir, Uid::from_raw(uid), Gid::from_raw(uid))
    }

    /// Removes everything the attempt left.
    pub fn remove(&self) {
        for result in [
            std::fs::remove_dir_all(&self.dir),
            std::fs::remove_file(&self.stderr_path),
        ] {
            if let Err(e) = result {
                if e.kind() != std::io::ErrorKind::NotFound {
                    tracing::warn!(dir = %self.dir.display(), error = %e, "cannot clean scratch");
                }
            }
        }
    }
}

fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> std::io::Result<()> {
    nix::unistd::fchownat(
        nix::fcntl::AT_FDCWD,
        path,
        Some(uid),
        Some(gid),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lent_uids_are_distinct_exclusive_and_come_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let pool = UidPool {
            in_use: Arc::default(),
            locks: Some(dir.path().to_owned()),
        };
        // A second pool over the same directory stands for another daemon on the host.
        let other = UidPool {
            in_use: Arc::default(),
            locks: Some(dir.path().to_owned()),
        };
        let a = pool.lend();
        let b = other.lend();
        let a_uid = a.as_ref().and_then(WorkerUid::uid);
        let b_uid = b.as_ref().and_then(WorkerUid::uid);
        assert!(a_uid.is_some() && b_uid.is_some());
        assert_ne!(a_uid, b_uid);
        drop(b);
        assert_eq!(pool.lend().and_then(|u| u.uid()), b_uid);
    }

    // Goal: a directory someone else could have prepared in a shared tmp is never used:
    // not a symlink to a directory of ours, and (as root, who can make one) not one owned
    // by another uid. Method: one of each beside a fresh path, which is made with the mode
    // asked, and an existing directory of ours, which is taken and given the mode.
    #[test]
    fn only_a_real_directory_of_ours_is_taken() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let mode = |path: &Path| {
            std::fs::symlink_metadata(path)
                .map(|m| m.mode() & 0o7777)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let fresh = dir.path().join("fresh");
        owned_dir(&fresh, 0o711).unwrap_or_else(|e| panic!("a fresh path: {e}"));
        assert_eq!(mode(&fresh), 0o711);
        owned_dir(&fresh, 0o700).unwrap_or_else(|e| panic!("our own directory: {e}"));
        assert_eq!(mode(&fresh), 0o700);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap_or_else(|e| panic!("{e}"));
        assert!(owned_dir(&link, 0o700).is_err(), "a symlink was taken");

        if Uid::effective().is_root() {
            let foreign = dir.path().join("foreign");
            std::fs::create_dir(&foreign).unwrap_or_else(|e| panic!("{e}"));
            chown_tree(&foreign, Uid::from_raw(65534), Gid::from_raw(65534))
                .unwrap_or_else(|e| panic!("{e}"));
            let Err(refused) = owned_dir(&foreign, 0o700) else {
                panic!("another uid's directory was taken");
            };
            assert!(
                refused.to_string().contains("owned by uid 65534"),
                "{refused}"
            );
            assert_eq!(mode(&foreign) & 0o077, 0o055, "its mode was changed");
        }
    }
}
