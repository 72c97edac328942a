//! Where the store and the socket live when the operator does not say.
//!
//! Flags win over the environment (`JITOS_DATA_DIR`, `JITOS_SOCKET`), which wins over
//! these XDG defaults; the CLI resolves them the same way so both meet on one socket.

use std::path::PathBuf;

use nix::unistd::Uid;

/// `$XDG_DATA_HOME/jitos`, else `$HOME/.local/share/jitos`, else a per-user dir in /tmp.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = non_empty_env("XDG_DATA_HOME") {
        return PathBuf::from(dir).join("jitos");
    }
    if let Some(home) = non_empty_env("HOME") {
        return PathBuf::from(home).join(".local/share/jitos");
    }
    PathBuf::from(format!("/tmp/jitos-{}/data", Uid::current()))
}

/// `$XDG_RUNTIME_DIR/jitos/jitosd.sock`, else `/tmp/jitos-<uid>/jitosd.sock`.
pub fn default_socket() -> PathBuf {
    match non_empty_env("XDG_RUNTIME_DIR") {
        Some(dir) => PathBuf::from(dir).join("jitos/jitosd.sock"),
        None => PathBuf::from(format!("/tmp/jitos-{}/jitosd.sock", Uid::current())),
    }
}

/// Where method library files are by default: `$XDG_CONFIG_HOME/jitos/methods`, else
/// `~/.config/jitos/methods`.
pub fn default_methods_dir() -> PathBuf {
    match non_empty_env("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir).join("jitos/methods"),
        None => PathBuf::from(non_empty_env("HOME").unwrap_or_else(|| "/".to_owned()))
            .join(".config/jitos/methods"),
    }
}

/// The directory of the running executable, where the built-in workers are installed
/// beside it.
pub fn own_dir() -> Result<PathBuf, String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the running executable: {e}"))?;
    exe.parent()
        .map(PathBuf::from)
        .ok_or_else(|| format!("{} has no directory", exe.display()))
}

/// Where the built-in workers are when the operator does not say: `lib/jitos/workers`
/// beside the executable's directory when it exists (the packaged layout: `/usr/bin/jitosd`
/// with its workers in `/usr/lib/jitos/workers`, off every user's `PATH`), else the
/// executable's own directory (a build tree, a `cargo install`).
pub fn default_worker_dir() -> Result<PathBuf, String> {
    let own = own_dir()?;
    let packaged = own
        .parent()
        .map(|prefix| prefix.join("lib/jitos/workers"))
        .filter(|dir| dir.is_dir());
    Ok(packaged.unwrap_or(own))
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
