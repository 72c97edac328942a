//! The listening socket: a 0600 unix socket inside a private 0700 directory, or, when
//! the access file names a group for it, a 0660 socket of that group inside a 0710
//! directory of that group, so its members can reach the socket but not list or change
//! the directory.

use std::{
    fs,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
};

use nix::unistd::{chown, Gid, Uid};
use tokio::net::UnixListener;

/// Why the socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    /// What the service manager passed (`LISTEN_FDS`) is not a listening unix socket.
    #[error("the socket the service manager passed (LISTEN_FDS) cannot be used: {0}; the socket unit must be a ListenStream= of a unix path")]
    Inherited(std::io::Error),
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
    /// The directory exists but the socket's group could not reach the socket in it.
    #[error("socket directory {dir} is not open to group {group} (gid {dir_gid}, mode {mode:o}); the access file names that group for the socket, so the directory must be of group {group} with mode 0710 — run `chgrp {group} {dir} && chmod 0710 {dir}`, or choose another --socket")]
    NotShared {
        /// The directory.
        dir: PathBuf,
        /// The group named by the access file.
        group: String,
        /// The directory's group.
        dir_gid: u32,
        /// Its permission bits.
        mode: u32,
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

/// The listening socket the service manager passed, by socket activation: `LISTEN_PID`
/// names this process and `LISTEN_FDS` counts fd 3 (as `sd_listen_fds` reads them; a
/// `LISTEN_FDS` meant for another process is left alone). Call it before any thread
/// starts: it clears those variables. Its path, mode and group are the socket unit's to
/// set (`packaging/systemd/jitosd.socket`).
pub fn inherited() -> Result<Option<std::os::unix::net::UnixListener>, SocketError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.parse::<u32>().ok())
        == Some(std::process::id());
    if !ours {
        return Ok(None);
    }
    let passed = listenfd::ListenFd::from_env()
        .take_unix_listener(0)
        .map_err(SocketError::Inherited)?;
    let Some(listener) = passed else {
        return Ok(None);
    };
    let listening = nix::sys::socket::getsockopt(&listener, nix::sys::socket::sockopt::AcceptConn)
        .map_err(|e| SocketError::Inherited(e.into()))?;
    if !listening {
        return Err(SocketError::Inherited(std::io::Error::other(
            "it is not listening",
        )));
    }
    Ok(Some(listener))
}

/// A passed socket, made the daemon's: its path (for messages; `fallback` when it has
/// none), and the listener on the async runtime. Must run inside a tokio runtime.
pub fn adopt(
    listener: std::os::unix::net::UnixListener,
    fallback: &Path,
) -> Result<(UnixListener, PathBuf), SocketError> {
    let path = listener
        .local_addr()
        .ok()
        .and_then(|addr| addr.as_pathname().map(Path::to_path_buf))
        .unwrap_or_else(|| fallback.to_path_buf());
    listener
        .set_nonblocking(true)
        .map_err(SocketError::Inherited)?;
    let listener = UnixListener::from_std(listener).map_err(SocketError::Inherited)?;
    Ok((listener, path))
}

/// Creates the directory, clears a stale socket, binds, and restricts the mode: to the
/// daemon's uid alone, or to it and `group` (name, gid) too.
pub fn bind(path: &Path, group: Option<(&str, u32)>) -> Result<UnixListener, SocketError> {
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
        if let Some((_, gid)) = group {
            chown(dir, None, Some(Gid::from_raw(gid)))
                .map_err(|e| io(dir)(std::io::Error::from(e)))?;
            fs::set_permissions(dir, fs::Permissions::from_mode(0o710)).map_err(io(dir))?;
        }
    }
    let meta = fs::metadata(dir).map_err(io(dir))?;
    let me = Uid::current().as_raw();
    let mode = meta.mode() & 0o7777;
    if meta.uid() != me || (group.is_none() && mode & 0o077 != 0) {
        return Err(SocketError::NotPrivate {
            dir: dir.to_path_buf(),
            owner: meta.uid(),
            mode,
            me,
        });
    }
    // The group may pass through the directory, never list or change it; others get nothing.
    if let Some((name, gid)) = group {
        if meta.gid() != gid || mode & 0o077 != 0o010 {
            return Err(SocketError::NotShared {
                dir: dir.to_path_buf(),
                group: name.to_owned(),
                dir_gid: meta.gid(),
                mode,
            });
        }
    }
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(SocketError::InUse(path.to_path_buf()));
        }
        fs::remove_file(path).map_err(io(path))?;
    }
    let listener = UnixListener::bind(path).map_err(io(path))?;
    let socket_mode = match group {
        Some((_, gid)) => {
            chown(path, None, Some(Gid::from_raw(gid)))
                .map_err(|e| io(path)(std::io::Error::from(e)))?;
            0o660
        }
        None => 0o600,
    };
    fs::set_permissions(path, fs::Permissions::from_mode(socket_mode)).map_err(io(path))?;
    Ok(listener)
}
