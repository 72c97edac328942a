//! The listening socket: a 0600 unix socket inside a private 0700 directory.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use nix::unistd::Uid;
use tokio::net::UnixListener;

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// The socket path has no parent directory.
    #[error("socket path {0} has no parent directory")]
    NoParent(PathBuf),
    /// The directory exists but others could reach or replace the socket in it.
    #[error("socket directory {dir} is not private (owner uid {owner}, mode {mode:o}); it must be owned by uid {me} with mode 0700 — fix it or choose another --socket")]
    NotPrivate {
        /// The directory.
        dir: PathBuf,
        /// Its owner.
        owner: u32,
        /// Its permission bits.
        mode: u32,
        /// This process's uid.
        me: u32,
    },
    /// Something answers on the socket already.
    #[error("a daemon already listens on {0}; stop it first, or choose another --socket")]
    InUse(PathBuf),
    /// A filesystem call failed.
    #[error("cannot set up socket {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// Creates the private directory, clears a stale socket, binds, and restricts the mode.
pub fn bind_private(path: &Path) -> Result<UnixListener, SocketError> {
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .ok_or_else(|| SocketError::NoParent(path.to_path_buf()))?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| SocketError::Io { path, source }
    };
    if !dir.exists() {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io(dir))?;
    }
    let meta = fs::metadata(dir).map_err(io(dir))?;
    let me = Uid::current().as_raw();
    let mode = meta.mode() & 0o7777;
    if meta.uid() != me || mode & 0o077 != 0 {
        return Err(SocketError::NotPrivate {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            mode,
            me,
        });
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(SocketError::InUse(path.to_path_buf()));
        }
        fs::remove_file(path).map_err(io(path))?;
    }
    let listener = UnixListener::bind(path).map_err(io(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    Ok(listener)
}
