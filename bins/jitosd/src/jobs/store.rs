//! The worker store: the copies of worker binaries jitosd actually executes.
//!
//! A worker binary may live anywhere its installer keeps it (under a private home, in a
//! build directory), where worker uids cannot reach it and its owner can change it
//! between a check and an exec. The daemon copies each binary it runs into a directory
//! only its own uid can write and every uid can enter, named by the copy's BLAKE3 digest,
//! and executes that copy: what runs is exactly what was checked. The store is emptied at
//! every start and filled again on demand from the binaries' recorded places, each
//! checked against the digest its install recorded.

use std::{
    collections::HashMap,
    fs::File,
    io::{Read, Write},
    os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicU64, Ordering},
        Mutex,
    },
};

use crate::reply::lock;

/// Mode of an admitted binary: every uid may read and execute it, none may change it.
const BINARY_MODE: u32 = 0o555;
/// Bytes read at a time while copying.
const COPY_CHUNK: usize = 256 * 1024;
/// Largest worker binary admitted: 1 GiB.
pub const BINARY_BYTES_MAX: u64 = 1 << 30;

/// Why a binary cannot be admitted.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The binary cannot be read, or the copy written.
    #[error("cannot read the worker binary {path}: {source}")]
    Binary {
        /// The binary.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The binary is larger than [`BINARY_BYTES_MAX`].
    #[error("the worker binary {path} is larger than {BINARY_BYTES_MAX} bytes")]
    TooLarge {
        /// The binary.
        path: PathBuf,
    },
    /// The binary changed while it was being copied (a build writing it, say).
    #[error(
        "the worker binary {path} changed while it was being copied; try again once it is written"
    )]
    Moving {
        /// The binary.
        path: PathBuf,
    },
    /// The binary is not the one its install recorded.
    #[error("the binary {path} changed since it was installed; run `jitos worker install` again if the change is intended")]
    Changed {
        /// The binary.
        path: PathBuf,
    },
    /// The copy could not be written.
    #[error("cannot copy {path} into the worker store {store}: {source}")]
    Copy {
        /// The binary.
        path: PathBuf,
        /// The store.
        store: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// The store, with what it holds by source file.
#[derive(Debug)]
pub struct WorkerStore {
    dir: PathBuf,
    /// Each source already admitted, by path: its stamp then and its digest. A launch
    /// reads the source again only when its stamp changed.
    admitted: Mutex<HashMap<PathBuf, (FileStamp, [u8; 32])>>,
    /// Numbers temporary copies, so concurrent admissions never share a file.
    next_temp: AtomicU64,
    /// Held while a binary is copied in, so two launches of a worker not yet admitted
    /// copy it once.
    copying: Mutex<()>,
}

impl WorkerStore {
    /// An empty store at `dir`, whatever a daemon that was killed left there.
    pub fn create(dir: &Path) -> std::io::Result<WorkerStore> {
        super::scratch::create_root(dir)?;
        Ok(WorkerStore {
            dir: dir.to_owned(),
            admitted: Mutex::default(),
            next_temp: AtomicU64::new(0),
            copying: Mutex::default(),
        })
    }

    /// Where the store is.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The copy of `source` to execute, admitting it first when it was not yet or has
    /// changed since. With `expected`, the copy must have that digest.
    pub fn admit(
        &self,
        source: &Path,
        expected: Option<[u8; 32]>,
    ) -> Result<(PathBuf, [u8; 32]), StoreError> {
        let unreadable = |source_error| StoreError::Binary {
            path: source.to_owned(),
            source: source_error,
        };
        let stamp = FileStamp::of(source).map_err(unreadable)?;
        if let Some(known) = self.known(source, stamp, expected) {
            return Ok(known);
        }
        let _copying = lock(&self.copying);
        if let Some(known) = self.known(source, stamp, expected) {
            return Ok(known);
        }
        let (temp, digest) = self.copy_in(source)?;
        if expected.is_some_and(|e| e != digest) {
            let _ = std::fs::remove_file(&temp);
            return Err(StoreError::Changed {
                path: source.to_owned(),
            });
        }
        // Never over an existing copy: a launch may have granted its inode to a worker
        // about to execute it. One already there holds the same bytes (its name is their
        // digest, and only this daemon writes here).
        let copy = self.path_of(&digest);
        let linked = std::fs::hard_link(&temp, &copy);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(self.copy_error(source, e)),
        }
        lock(&self.admitted).insert(source.to_owned(), (stamp, digest));
        Ok((copy, digest))
    }

    /// The copy of `source` when it is admitted already and unchanged since: a `stat`, no
    /// copy and no hash; none when [`WorkerStore::admit`] has work to do.
    pub fn admitted(&self, source: &Path, expected: Option<[u8; 32]>) -> Option<PathBuf> {
        let stamp = FileStamp::of(source).ok()?;
        self.known(source, stamp, expected).map(|(copy, _)| copy)
    }

    /// The copy of `source` already admitted, if its stamp is still `stamp` and its
    /// digest the one expected.
    fn known(
        &self,
        source: &Path,
        stamp: FileStamp,
        expected: Option<[u8; 32]>,
    ) -> Option<(PathBuf, [u8; 32])> {
        let (seen, digest) = lock(&self.admitted).get(source).copied()?;
        let copy = self.path_of(&digest);
        (seen == stamp && expected.is_none_or(|e| e == digest) && copy.is_file())
            .then_some((copy, digest))
    }

    fn path_of(&self, digest: &[u8; 32]) -> PathBuf {
        self.dir.join(hex::encode(digest))
    }

    fn copy_error(&self, path: &Path, source: std::io::Error) -> StoreError {
        StoreError::Copy {
            path: path.to_owned(),
            store: self.dir.clone(),
            source,
        }
    }

    /// Copies `source` into a fresh temporary file of the store, hashing what it copies;
    /// anything but a regular file (a FIFO or a device would never end) is refused.
    fn copy_in(&self, source: &Path) -> Result<(PathBuf, [u8; 32]), StoreError> {
        let unreadable = |e| StoreError::Binary {
            path: source.to_owned(),
            source: e,
        };
        // Non-blocking, so opening a FIFO returns at once instead of waiting for a writer.
        let mut from = File::options()
            .read(true)
            .custom_flags(nix::fcntl::OFlag::O_NONBLOCK.bits())
            .open(source)
            .map_err(unreadable)?;
        let before = from.metadata().map_err(unreadable)?;
        if !before.is_file() {
            return Err(unreadable(std::io::Error::other(
                "it is not a regular file",
            )));
        }
        if before.len() > BINARY_BYTES_MAX {
            return Err(StoreError::TooLarge {
                path: source.to_owned(),
            });
        }
        let temp = self.dir.join(format!(
            ".admitting-{}",
            self.next_temp.fetch_add(1, Ordering::Relaxed)
        ));
        let mut to = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(|e| self.copy_error(source, e))?;
        let mut hasher = blake3::Hasher::new();
        let mut chunk = vec![0u8; COPY_CHUNK];
        let copied = (|| -> Result<(), StoreError> {
            let mut total = 0u64;
            loop {
                let read = from.read(&mut chunk).map_err(unreadable)?;
                if read == 0 {
                    break;
                }
                total += read as u64;
                if total > BINARY_BYTES_MAX {
                    return Err(StoreError::TooLarge {
                        path: source.to_owned(),
                    });
                }
                let bytes = chunk.get(..read).unwrap_or_default();
                hasher.update(bytes);
                to.write_all(bytes)
                    .map_err(|e| self.copy_error(source, e))?;
            }
            let after = from.metadata().map_err(unreadable)?;
            if FileStamp::from(&before) != FileStamp::from(&after) {
                return Err(StoreError::Moving {
                    path: source.to_owned(),
                });
            }
            to.set_permissions(std::fs::Permissions::from_mode(BINARY_MODE))
                .map_err(|e| self.copy_error(source, e))
        })();
        if let Err(e) = copied {
            let _ = std::fs::remove_file(&temp);
            return Err(e);
        }
        Ok((temp, *hasher.finalize().as_bytes()))
    }
}

/// What identifies one version of a file's content without reading it: any write to the
/// file changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<FileStamp> {
        Ok(FileStamp::from(&std::fs::metadata(path)?))
    }
}

impl From<&std::fs::Metadata> for FileStamp {
    fn from(meta: &std::fs::Metadata) -> FileStamp {
        let ns = |secs: i64, nanos: i64| i128::from(secs) * 1_000_000_000 + i128::from(nanos);
        FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Checks that a uid that owns nothing can reach `dir` (jitosd makes it, so only the
/// directories above it matter), or says what to do.
pub fn check_reachable(dir: &Path) -> Result<(), String> {
    let parent = dir.parent().unwrap_or(Path::new("/"));
    jitos_sandbox::others_may(parent, jitos_sandbox::Use::Enter).map_err(|e| {
        format!(
            "workers run under uids of their own, which could not reach {}: {e}; set TMPDIR \
             to a directory every user may enter (such as /tmp)",
            dir.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, WorkerStore) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store =
            WorkerStore::create(&dir.path().join("store")).unwrap_or_else(|e| panic!("{e}"));
        (dir, store)
    }

    // Goal: what runs is a copy no one else can change, named by its digest, and a source
    // changed since install is refused; method: admit a file, change it, admit it again
    // with the old digest expected and without.
    #[test]
    fn the_copy_is_the_checked_content_and_a_changed_source_is_refused() {
        let (dir, store) = store();
        let source = dir.path().join("worker");
        std::fs::write(&source, b"first").unwrap_or_else(|e| panic!("{e}"));
        let (copy, digest) = store.admit(&source, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(digest, *blake3::hash(b"first").as_bytes());
        assert_eq!(std::fs::read(&copy).unwrap_or_default(), b"first");
        let mode = std::fs::metadata(&copy)
            .map(|m| m.mode() & 0o7777)
            .unwrap_or(0);
        assert_eq!(mode, BINARY_MODE);

        std::fs::write(&source, b"second, longer").unwrap_or_else(|e| panic!("{e}"));
        match store.admit(&source, Some(digest)) {
            Err(StoreError::Changed { .. }) => {}
            other => panic!("a changed binary was admitted: {other:?}"),
        }
        assert_eq!(
            std::fs::read(&copy).unwrap_or_default(),
            b"first",
            "the copy changed"
        );
        let (again, new_digest) = store.admit(&source, None).unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(again, copy);
        assert_eq!(new_digest, *blake3::hash(b"second, longer").as_bytes());
    }

    // Goal: a FIFO never blocks an admission; method: admit one.
    #[test]
    fn a_fifo_is_refused_without_waiting() {
        let (dir, store) = store();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            store.admit(&fifo, None),
            Err(StoreError::Binary { .. })
        ));
    }
}
