//! One daemon per data directory: an exclusive `flock` on `jitosd.lock`.
//!
//! RocksDB locks the store too, but this lock is taken first and names the holder, so a
//! second daemon is refused with a message that says who holds it, before it opens anything.

use std::{
    fs::{File, OpenOptions},
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use nix::{
    errno::Errno,
    fcntl::{Flock, FlockArg},
};

/// Why the data directory could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds the lock.
    #[error("another jitosd{holder} is serving {dir}; stop it first, or pick another --data-dir")]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// " (pid N)" when the holder wrote its pid.
        holder: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock {path}: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// How long a start waits for the lock of a jitosd that is no longer running.
const DEAD_HOLDER_WAIT: Duration = Duration::from_secs(5);
/// How often it tries again meanwhile.
const DEAD_HOLDER_POLL: Duration = Duration::from_millis(10);

/// Holds the data directory for as long as it lives.
pub struct DataDirLock {
    _lock: Flock<File>,
}

impl DataDirLock {
    /// Takes the lock without waiting, recording this process's pid in the file.
    pub fn acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let path = dir.join("jitosd.lock");
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        let deadline = Instant::now() + DEAD_HOLDER_WAIT;
        let mut file = file;
        let mut lock = loop {
            match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => break lock,
                Err((mut held, Errno::EWOULDBLOCK)) => {
                    let mut pid = String::new();
                    let _ = held.rewind().and_then(|()| held.read_to_string(&mut pid));
                    let pid = pid.trim();
                    // A jitosd killed a moment ago leaves the lock to a process it was
                    // starting (which holds a copy of every descriptor until it executes
                    // its program or exits); that ends within moments.
                    let holder_gone = pid.parse::<i32>().is_ok_and(|pid| {
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                            == Err(Errno::ESRCH)
                    });
                    if holder_gone && Instant::now() < deadline {
                        std::thread::sleep(DEAD_HOLDER_POLL);
                        file = held;
                        continue;
                    }
                    return Err(LockError::Held {
                        dir: dir.to_path_buf(),
                        holder: match (pid.is_empty(), holder_gone) {
                            (true, _) => String::new(),
                            (false, false) => format!(" (pid {pid})"),
                            (false, true) => format!(
                                " (pid {pid} is gone, but a process it started still holds its lock)"
                            ),
                        },
                    });
                }
                Err((_, errno)) => return Err(io(std::io::Error::from(errno))),
            }
        };
        lock.set_len(0).map_err(io)?;
        lock.rewind().map_err(io)?;
        write!(lock, "{}", std::process::id()).map_err(io)?;
        Ok(DataDirLock { _lock: lock })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a lock left for a moment to a process a killed jitosd was starting does not
    // refuse the next start, while a live holder refuses it at once. Method: `flock`
    // (util-linux) holds the lock file for 300 ms while the file names a pid that does
    // not exist; then while it names this live process.
    #[test]
    fn a_dead_holders_lock_is_waited_for_and_a_live_ones_refused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("jitosd.lock");
        let hold = |pid: &str, secs: &str| {
            std::fs::write(&path, pid).unwrap_or_else(|e| panic!("{e}"));
            let child = std::process::Command::new("flock")
                .args([
                    "--exclusive",
                    path.to_str().unwrap_or_default(),
                    "sleep",
                    secs,
                ])
                .spawn()
                .unwrap_or_else(|e| panic!("flock: {e}"));
            // Until `flock` holds it.
            while std::fs::File::open(&path)
                .ok()
                .and_then(|f| Flock::lock(f, FlockArg::LockExclusiveNonblock).ok())
                .is_some()
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            child
        };
        // i32::MAX is above any pid_max, so no process has it.
        let mut child = hold(&i32::MAX.to_string(), "0.3");
        let started = Instant::now();
        let lock = DataDirLock::acquire(dir.path());
        assert!(lock.is_ok(), "a dead holder's lock refused the start");
        assert!(started.elapsed() >= Duration::from_millis(100));
        drop(lock);
        let _ = child.wait();

        let mut child = hold(&std::process::id().to_string(), "2");
        let started = Instant::now();
        match DataDirLock::acquire(dir.path()) {
            Err(LockError::Held { holder, .. }) => {
                assert!(holder.contains(&std::process::id().to_string()), "{holder}")
            }
            Ok(_) => panic!("a live holder's lock was taken"),
            Err(e) => panic!("{e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "a live holder was waited for"
        );
        let _ = child.kill();
        let _ = child.wait();
    }
}
