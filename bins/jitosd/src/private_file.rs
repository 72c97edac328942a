//! Files only the daemon's user may read (secrets, tokens' hashes), each written so that a
//! crash leaves the old file or the new one whole: to a staged name beside it (0600),
//! synced, renamed into place, and the directory synced.

use std::{io::Write as _, os::unix::fs::OpenOptionsExt as _, path::Path};

/// Writes `bytes` as `dir/name`, replacing what was there, durably.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let staged = dir.join(staged_name(name));
    let staged_then_placed = || {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&staged)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&staged, dir.join(name))
    };
    if let Err(e) = staged_then_placed() {
        // What was staged holds the new bytes (a secret's): not left lying about.
        let _ = std::fs::remove_file(&staged);
        return Err(e);
    }
    sync_dir(dir)
}

/// Removes `dir/name` durably; one already gone is removed.
pub(crate) fn remove(dir: &Path, name: &str) -> std::io::Result<()> {
    match std::fs::remove_file(dir.join(name)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    sync_dir(dir)
}

/// Whether `name` is what an interrupted [`write`] left behind.
pub(crate) fn is_staged(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".new")
}

fn staged_name(name: &str) -> String {
    format!(".{name}.new")
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}
