//! The daemon's writ-signing key: 32 secret bytes, hex, in `writ.key` in the data
//! directory, made at first start with mode 0600 and refused if anyone else may read it.

use std::{
    io::Write,
    os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt},
    path::{Path, PathBuf},
};

use jitos_gov::writ::WritKey;

/// The key file's name in the data directory.
pub const KEY_FILE: &str = "writ.key";

/// Why the key cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file could not be read, made or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// Someone besides the daemon's user may read or change it.
    #[error("{path} has mode {mode:o} and owner uid {owner}: the writ key must be readable by the daemon's user (uid {me}) alone; run `chown {me} {path} && chmod 600 {path}`, or move it away to make a new key (writs signed by the old one stay valid in the ledger, but no new one is signed with it)")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its mode bits.
        mode: u32,
        /// Its owner.
        owner: u32,
        /// The daemon's uid.
        me: u32,
    },
    /// It does not hold a key.
    #[error("{path} does not hold a writ key (64 hex digits): {why}")]
    Garbled {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A read-only daemon found no key and makes none.
    #[error("{path} does not exist, and a read-only jitosd makes no key")]
    Missing {
        /// The file.
        path: PathBuf,
    },
}

/// The key in `data_dir`, made (0600, synced) if there is none and `create` allows it.
pub fn load_or_create(data_dir: &Path, create: bool) -> Result<WritKey, KeyError> {
    let path = data_dir.join(KEY_FILE);
    let io = |source| KeyError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::symlink_metadata(&path) {
        Ok(meta) => {
            let me = nix::unistd::getuid().as_raw();
            let mode = meta.permissions().mode() & 0o7777;
            if !meta.is_file() || meta.uid() != me || mode & 0o077 != 0 {
                return Err(KeyError::Exposed {
                    path,
                    mode,
                    owner: meta.uid(),
                    me,
                });
            }
            let text = std::fs::read_to_string(&path).map_err(io)?;
            parse(text.trim()).map_err(|why| KeyError::Garbled { path, why })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => {
            Err(KeyError::Missing { path })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = WritKey::generate();
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(io)?;
            file.write_all(format!("{}\n", hex::encode(key.to_bytes())).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(io)?;
            std::fs::File::open(data_dir)
                .and_then(|dir| dir.sync_all())
                .map_err(|source| KeyError::Io {
                    path: data_dir.to_owned(),
                    source,
                })?;
            tracing::info!(path = %path.display(), public = %key.public(), "made the daemon's writ key");
            Ok(key)
        }
        Err(e) => Err(io(e)),
    }
}

fn parse(text: &str) -> Result<WritKey, String> {
    let bytes = hex::decode(text).map_err(|e| e.to_string())?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("{} bytes, not 32", bytes.len()))?;
    Ok(WritKey::from_bytes(&bytes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    // Goal: the key is made once, private, and read back the same; a file others may
    // read is refused. Method: a temporary data directory; the mode is widened by hand.
    #[test]
    fn the_key_is_made_private_and_read_back_and_an_exposed_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            load_or_create(dir.path(), false),
            Err(KeyError::Missing { .. })
        ));
        let made = load_or_create(dir.path(), true).unwrap();
        let path = dir.path().join(KEY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            load_or_create(dir.path(), true).unwrap().public(),
            made.public()
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let error = load_or_create(dir.path(), true).unwrap_err();
        assert!(
            matches!(error, KeyError::Exposed { mode: 0o640, .. }),
            "{error}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "not a key\n").unwrap();
        assert!(matches!(
            load_or_create(dir.path(), true),
            Err(KeyError::Garbled { .. })
        ));
    }
}
