//! The unprivileged uids confined programs of a root caller run under, one per running
//! program, unique across every caller on the host.

use std::{
    collections::BTreeSet,
    fs::File,
    io::Write,
    os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use nix::fcntl::{Flock, FlockArg};

/// First uid lent. Far above any account a distribution creates, so a confined program
/// shares its uid with no process and owns no file but what it is given.
pub const LENT_UID_BASE: u32 = 0x4A49_0000;
/// Uids that may be lent at once, across every caller on the host.
pub const LENT_UIDS_MAX: u32 = 4096;

/// Uids lent one per running program. A uid is held by an exclusive `flock` on its file
/// in a host-wide directory, so two callers on one host (two daemons, a daemon and
/// `jitos sandbox exec`) never lend the same uid, and one sweeping strays never kills
/// another's program.
#[derive(Debug, Clone)]
pub struct UidPool {
    in_use: Arc<Mutex<BTreeSet<u32>>>,
    locks: PathBuf,
}

/// A uid lent to one program; given back when dropped.
#[derive(Debug)]
pub struct LentUid {
    uid: u32,
    /// Held for as long as the uid is lent.
    _lock: Flock<File>,
    pool: UidPool,
}

impl LentUid {
    /// The uid.
    pub fn uid(&self) -> u32 {
        self.uid
    }
}

impl Drop for LentUid {
    fn drop(&mut self) {
        // Given back cleanly: the next borrower need not look for strays.
        let _ = self._lock.set_len(0);
        held(&self.pool.in_use).remove(&self.uid);
    }
}

impl UidPool {
    /// The host-wide pool: its locks live in `/run/jitos-worker-uids` (root's, never
    /// cleaned while the host runs, and the same whatever `TMPDIR` a caller has), or in
    /// the temporary directory on a host without `/run`.
    pub fn host() -> std::io::Result<UidPool> {
        let run = Path::new("/run");
        let base = if run.is_dir() {
            run.to_owned()
        } else {
            std::env::temp_dir()
        };
        UidPool::at(&base.join("jitos-worker-uids"))
    }

    /// A pool whose uid locks live in `lock_dir`, made private (0700) to this caller's uid
    /// and refused if someone else made it first. Only root can lend from it.
    pub fn at(lock_dir: &Path) -> std::io::Result<UidPool> {
        own_directory(lock_dir, 0o700)?;
        Ok(UidPool {
            in_use: Arc::default(),
            locks: lock_dir.to_owned(),
        })
    }

    /// For a caller that is root, a uid lent from the host's pool; for anyone else
    /// `None`: their confined programs run as themselves.
    pub fn for_caller() -> std::io::Result<Option<LentUid>> {
        // SAFETY: geteuid takes no arguments and cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            return Ok(None);
        }
        UidPool::host()?.lend().map(Some).ok_or_else(|| {
            std::io::Error::other(format!(
                "all {LENT_UIDS_MAX} uids of the host's pool are in use"
            ))
        })
    }

    /// Lends the lowest uid no program of any caller holds, or `None` when all are held.
    pub fn lend(&self) -> Option<LentUid> {
        let mut in_use = held(&self.in_use);
        for uid in LENT_UID_BASE..LENT_UID_BASE + LENT_UIDS_MAX {
            if in_use.contains(&uid) {
                continue;
            }
            if let Some(mut lock) = try_hold(&self.locks, uid) {
                // A borrower marks the uid's lock file while it holds the uid and clears
                // it when it gives the uid back; a marked file is one a killed borrower
                // left, maybe with processes still under the uid, which would count
                // against the next program's limits and share its uid. The lock makes
                // them ours to end.
                let left_by_a_killed_borrower = lock.metadata().is_ok_and(|m| m.len() > 0);
                if left_by_a_killed_borrower && end_all_of(uid).is_err() {
                    continue;
                }
                if lock
                    .set_len(0)
                    .and_then(|()| lock.write_all(LENT_MARK))
                    .is_err()
                {
                    continue;
                }
                in_use.insert(uid);
                return Some(LentUid {
                    uid,
                    _lock: lock,
                    pool: self.clone(),
                });
            }
        }
        None
    }

    /// Kills every process that runs under a lendable uid no caller holds: what programs
    /// of a caller that was killed left behind (children that escaped their process
    /// group). Returns the uids swept and those that could not be.
    pub fn kill_strays(&self) -> (usize, Vec<(u32, std::io::Error)>) {
        let (mut swept, mut failed) = (0, Vec::new());
        for uid in running_lendable_uids() {
            if held(&self.in_use).contains(&uid) {
                continue;
            }
            // Held for the sweep, so no other caller lends the uid meanwhile.
            let Some(_lock) = try_hold(&self.locks, uid) else {
                continue;
            };
            match crate::kill_uid(uid) {
                Ok(()) => swept += 1,
                Err(e) => failed.push((uid, e)),
            }
        }
        (swept, failed)
    }
}

/// What a borrower writes into a uid's lock file while it holds the uid.
const LENT_MARK: &[u8] = b"lent\n";

/// How long lending waits for a killed borrower's processes to be gone.
const STRAYS_GONE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Kills every process of `uid` and waits until none is left (or a while has passed).
fn end_all_of(uid: u32) -> std::io::Result<()> {
    crate::kill_uid(uid)?;
    let deadline = std::time::Instant::now() + STRAYS_GONE_WAIT;
    while running_lendable_uids().contains(&uid) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Ok(())
}

/// Takes the lock of `uid`, unless another holder has it.
fn try_hold(dir: &Path, uid: u32) -> Option<Flock<File>> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(dir.join(uid.to_string()))
        .ok()?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).ok()
}

/// The lendable uids that own a process now, from `/proc`.
fn running_lendable_uids() -> BTreeSet<u32> {
    let range = LENT_UID_BASE..LENT_UID_BASE + LENT_UIDS_MAX;
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

/// Makes `dir` (its parent must exist), or takes the one there only if it is a real
/// directory of this uid: in a shared temporary directory anyone may have made it first,
/// and root would then write where they can swap things. It ends with exactly `mode`.
pub fn own_directory(dir: &Path, mode: u32) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(mode).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid takes no arguments and cannot fail.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of uid {uid} (it is owned by uid {}); someone else \
                 made it, so it will not be used: remove it and try again",
                dir.display(),
                meta.uid()
            ),
        ));
    }
    // Not a symlink, and in a sticky directory only its owner may move it away.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Gives `path` and everything under it (symlinks themselves, never what they point to)
/// to `uid` and the group of the same number, so a program running as a lent uid may use
/// the files it is handed.
pub fn give_tree(path: &Path, uid: u32) -> std::io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid))?;
    if std::fs::symlink_metadata(path)?.is_dir() {
        for entry in std::fs::read_dir(path)? {
            give_tree(&entry?.path(), uid)?;
        }
    }
    Ok(())
}

/// The set, even if a thread panicked while holding it (it is only ever a set of uids).
fn held(in_use: &Mutex<BTreeSet<u32>>) -> MutexGuard<'_, BTreeSet<u32>> {
    in_use.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lent_uids_are_distinct_exclusive_and_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let locks = dir.path().join("locks");
        let pool = UidPool::at(&locks).unwrap();
        // A second pool over the same directory stands for another caller on the host.
        let other = UidPool::at(&locks).unwrap();
        let a = pool.lend().unwrap();
        let b = other.lend().unwrap();
        assert_ne!(a.uid(), b.uid());
        let b_uid = b.uid();
        drop(b);
        assert_eq!(pool.lend().map(|u| u.uid()), Some(b_uid));
    }

    // Goal: a directory someone else could have prepared in a shared tmp is never used:
    // not a symlink to a directory of ours, and (as root, who can make one) not one owned
    // by another uid. Method: one of each beside a fresh path, which is made with the mode
    // asked, and an existing directory of ours, which is taken and given the mode.
    #[test]
    fn only_a_real_directory_of_ours_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let mode = |path: &Path| std::fs::symlink_metadata(path).unwrap().mode() & 0o7777;
        let fresh = dir.path().join("fresh");
        own_directory(&fresh, 0o711).unwrap();
        assert_eq!(mode(&fresh), 0o711);
        own_directory(&fresh, 0o700).unwrap();
        assert_eq!(mode(&fresh), 0o700);

        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert!(own_directory(&link, 0o700).is_err(), "a symlink was taken");

        // SAFETY: geteuid takes no arguments.
        if unsafe { libc::geteuid() } == 0 {
            let foreign = dir.path().join("foreign");
            std::fs::create_dir(&foreign).unwrap();
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
            let Err(refused) = own_directory(&foreign, 0o700) else {
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
