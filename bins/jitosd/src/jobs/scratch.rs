//! Scratch space for attempts: a private directory per attempt, given to the attempt's
//! worker uid when the daemon is root.

use std::{
    os::unix::fs::DirBuilderExt,
    path::{Path, PathBuf},
};

/// Creates a root of per-daemon files outside the data directory (the scratch root, the
/// worker store), emptied of what a daemon that was killed left: world-traversable but
/// not listable, so a worker uid can reach what it is given and see nothing else. Only
/// this daemon uses it: it holds the data directory's lock.
pub fn create_root(root: &Path) -> std::io::Result<()> {
    if root.exists() {
        // A worker of the killed daemon may still be dying and writing into it: move it
        // aside in one rename, then remove what can be removed.
        let aside = root.with_extension(format!("old-{}", std::process::id()));
        std::fs::rename(root, &aside)?;
        if let Err(e) = std::fs::remove_dir_all(&aside) {
            tracing::warn!(dir = %aside.display(), error = %e, "cannot remove what a killed jitosd left");
        }
    }
    jitos_sandbox::own_directory(root, 0o711)
}

/// One attempt's scratch: the worker's read-write directory and, inside it, where the
/// workspace's files are written.
#[derive(Debug)]
pub struct Scratch {
    /// The worker's directory (its cwd).
    pub dir: PathBuf,
    /// Where the job's workspace files go.
    pub workspace_dir: PathBuf,
    /// The scratch root, where the worker's stderr file is made (outside `dir`, so the
    /// worker cannot rewrite it after the fact).
    pub root: PathBuf,
}

impl Scratch {
    /// Creates an empty private directory for `attempt` under `root`.
    pub fn create(root: &Path, attempt: u64) -> std::io::Result<Scratch> {
        let dir = root.join(attempt.to_string());
        std::fs::DirBuilder::new().mode(0o700).create(&dir)?;
        Ok(Scratch {
            workspace_dir: dir.join("ws"),
            root: root.to_owned(),
            dir,
        })
    }

    /// Gives the whole scratch directory to `uid`, so a worker running as it may write.
    pub fn give_to(&self, uid: u32) -> std::io::Result<()> {
        jitos_sandbox::give_tree(&self.dir, uid)
    }

    /// Removes everything the attempt left.
    pub fn remove(&self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot clean scratch");
            }
        }
    }
}
