//! Whether a uid that owns nothing may reach a path: what a lent uid can use, decided by
//! the permissions for others alone.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// What a program needs to do with a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// Enter it (a directory) or reach what is below it.
    Enter,
    /// Read it (and list it, for a directory).
    Read,
    /// Write in it.
    Write,
    /// Execute it.
    Execute,
}

impl Use {
    /// The permission bits for others this use needs on the path itself.
    fn bits(self, is_dir: bool) -> u32 {
        match (self, is_dir) {
            (Use::Enter, _) => 0o001,
            (Use::Read, true) => 0o005,
            (Use::Read, false) => 0o004,
            (Use::Write, true) => 0o003,
            (Use::Write, false) => 0o002,
            (Use::Execute, true) => 0o001,
            // A script is read by its interpreter too.
            (Use::Execute, false) => 0o005,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Use::Enter => "enter",
            Use::Read => "read",
            Use::Write => "write",
            Use::Execute => "execute",
        }
    }
}

/// Why a uid that owns nothing cannot use a path.
#[derive(Debug, thiserror::Error)]
pub enum Unreachable {
    /// A directory on the way, or the path itself, lacks the permission for others.
    #[error("cannot {verb} {path}: {blocked} has mode {mode:04o}, which lets others do less")]
    Blocked {
        /// What was asked.
        verb: &'static str,
        /// The path asked about.
        path: PathBuf,
        /// The path or directory in the way.
        blocked: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// The path or a directory above it cannot be inspected.
    #[error("cannot inspect {path}: {error}")]
    Inspect {
        /// The path.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
}

/// Checks that a uid that owns nothing and is in no group of the path's may `use` `path`:
/// search permission for others on every directory above it, and what `use` needs on the
/// path itself.
pub fn others_may(path: &Path, use_: Use) -> Result<(), Unreachable> {
    let mode_of = |p: &Path| {
        std::fs::metadata(p)
            .map(|meta| (meta.mode(), meta.is_dir()))
            .map_err(|error| Unreachable::Inspect {
                path: p.to_owned(),
                error,
            })
    };
    let blocked = |blocked: &Path, mode: u32| Unreachable::Blocked {
        verb: use_.verb(),
        path: path.to_owned(),
        blocked: blocked.to_owned(),
        mode: mode & 0o7777,
    };
    for dir in path.ancestors().skip(1) {
        let (mode, _) = mode_of(dir)?;
        if mode & 0o001 == 0 {
            return Err(blocked(dir, mode));
        }
    }
    let (mode, is_dir) = mode_of(path)?;
    let needed = use_.bits(is_dir);
    if mode & needed != needed {
        return Err(blocked(path, mode));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    // Goal: the first thing in the way is named, with its mode; method: a file in a 0700
    // directory, then the directory opened, then the file read-only for others.
    #[test]
    fn names_what_is_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool");
        std::fs::write(&file, "x").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        match others_may(&file, Use::Read) {
            Err(Unreachable::Blocked { blocked, mode, .. }) => {
                assert_eq!((blocked.as_path(), mode), (dir.path(), 0o700));
            }
            other => panic!("{other:?}"),
        }
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        others_may(&file, Use::Read).unwrap();
        match others_may(&file, Use::Execute) {
            Err(Unreachable::Blocked { blocked, .. }) => assert_eq!(blocked, file),
            other => panic!("{other:?}"),
        }
        assert!(others_may(dir.path(), Use::Write).is_err());
    }
}
