//! Bearer tokens for the HTTP API (`jitos token create`): each stands for the user who
//! created it, with the roles that user has on the socket at the time of each request.
//!
//! Only a token's hash is kept, one file per token (0600) in `tokens/` in the data
//! directory, never in the ledger: a token is a credential, not history. A file is
//! written to a temporary name, synced, renamed into place and the directory synced, so a
//! token is usable once `jitos token create` shows it and survives a crash from then on.

use std::{
    collections::BTreeMap,
    io::Read as _,
    os::unix::fs::DirBuilderExt as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use jitos_gov::{Principal, Role};
use jitos_proto::{ErrorCode, Response, TokenCreated, TokenView};
use serde::{Deserialize, Serialize};

use crate::reply::{error, lock};

/// The directory of the data directory that holds the tokens' hashes.
pub const TOKENS_DIR: &str = "tokens";
/// What every token begins with, so a leaked one is recognisable (and scannable).
pub const TOKEN_PREFIX: &str = "jitos_";
/// Tokens one user may hold.
pub const TOKENS_PER_USER_MAX: usize = 64;
/// The longest name a token may be given.
pub const TOKEN_NAME_BYTES_MAX: usize = 64;
/// Hex digits of a token's hash that make its public id.
const ID_HEX_DIGITS: usize = 16;
/// The largest token file read: far above any real one.
const FILE_BYTES_MAX: u64 = 4096;

/// Why a token could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A file of the store could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
}

/// One token as stored: its hash, never itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    /// blake3 of the token, hex.
    hash: String,
    name: String,
    uid: u32,
    created_ms: u64,
}

/// The tokens, by hash, as read at start and changed since.
pub struct TokenStore {
    dir: PathBuf,
    read_only: bool,
    /// Held by a create or a revoke across its file's write and sync, so readers, who
    /// take only `tokens` for an instant, never wait for an fsync.
    changes: Mutex<()>,
    tokens: Mutex<Arc<BTreeMap<String, Stored>>>,
}

/// The hash a token is known by: what a caller keeps to ask again whether it still
/// stands, without keeping the token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHash(String);

impl TokenStore {
    /// The store in `data_dir`, made (0700) if missing unless `read_only`. A file that is
    /// not a token's is left alone with a warning; one an interrupted create left behind
    /// is removed.
    pub fn open(data_dir: &Path, read_only: bool) -> Result<TokenStore, TokenError> {
        let dir = data_dir.join(TOKENS_DIR);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TokenError::Io { path, source }
        };
        if !read_only {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(io(&dir))?;
        }
        let mut tokens = BTreeMap::new();
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TokenStore::of(dir, read_only, tokens))
            }
            Err(e) => return Err(io(&dir)(e)),
        };
        for entry in entries {
            let path = entry.map_err(io(&dir))?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if crate::private_file::is_staged(&name) && !read_only {
                std::fs::remove_file(&path).map_err(io(&path))?;
                continue;
            }
            match read_stored(&path) {
                Some(stored) if stored.hash.get(..ID_HEX_DIGITS) == Some(name.as_str()) => {
                    tokens.insert(stored.hash.clone(), stored);
                }
                _ => tracing::warn!(path = %path.display(), "not a token's file: left alone"),
            }
        }
        Ok(TokenStore::of(dir, read_only, tokens))
    }

    fn of(dir: PathBuf, read_only: bool, tokens: BTreeMap<String, Stored>) -> TokenStore {
        TokenStore {
            dir,
            read_only,
            changes: Mutex::new(()),
            tokens: Mutex::new(Arc::new(tokens)),
        }
    }

    /// The uid `token` stands for, and its hash, if it is one of ours.
    pub fn holder(&self, token: &str) -> Option<(u32, TokenHash)> {
        let hash = TokenHash(blake3::hash(token.as_bytes()).to_hex().to_string());
        let uid = self.still_held(&hash)?;
        Some((uid, hash))
    }

    /// The uid the token of `hash` stands for, while it is not revoked.
    pub fn still_held(&self, hash: &TokenHash) -> Option<u32> {
        lock(&self.tokens).get(&hash.0).map(|stored| stored.uid)
    }

    /// Creates a token for `principal`, named `name`; it is stored (synced) before it is
    /// answered.
    pub fn create(&self, principal: &Principal, name: &str) -> Response {
        if self.read_only {
            return error(
                ErrorCode::ReadOnly,
                "jitosd is read-only: it creates no tokens",
            );
        }
        if name.is_empty()
            || name.len() > TOKEN_NAME_BYTES_MAX
            || name.chars().any(|c| c.is_control())
        {
            return error(
                ErrorCode::BadRequest,
                format!("a token's name is 1 to {TOKEN_NAME_BYTES_MAX} bytes without control characters"),
            );
        }
        let _changing = lock(&self.changes);
        let tokens = Arc::clone(&lock(&self.tokens));
        let held = tokens.values().filter(|t| t.uid == principal.uid).count();
        if held >= TOKENS_PER_USER_MAX {
            return error(
                ErrorCode::BadRequest,
                format!("you hold {TOKENS_PER_USER_MAX} tokens already; revoke one with `jitos token revoke ID`"),
            );
        }
        let secret: [u8; 32] = rand::random();
        let token = format!("{TOKEN_PREFIX}{}", hex::encode(secret));
        let stored = Stored {
            hash: blake3::hash(token.as_bytes()).to_hex().to_string(),
            name: name.to_owned(),
            uid: principal.uid,
            created_ms: jitos_ledger::Clock::now_ms(&jitos_ledger::SystemClock),
        };
        if let Err(e) = self.write(&stored) {
            return error(ErrorCode::Storage, e.to_string());
        }
        let view = view_of(&stored);
        let mut changed = (*tokens).clone();
        changed.insert(stored.hash.clone(), stored);
        *lock(&self.tokens) = Arc::new(changed);
        Response::TokenCreated(TokenCreated { token, view })
    }

    /// `principal`'s tokens, or everyone's for an admin, oldest first.
    pub fn list(&self, principal: &Principal) -> Vec<TokenView> {
        let tokens = Arc::clone(&lock(&self.tokens));
        let mut listed: Vec<TokenView> = tokens
            .values()
            .filter(|t| t.uid == principal.uid || principal.roles.has(Role::Admin))
            .map(view_of)
            .collect();
        listed.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        listed
    }

    /// Revokes the token `id`: the asker's own, or anyone's for an admin; answered with the
    /// tokens left.
    pub fn revoke(&self, principal: &Principal, id: &str) -> Response {
        if self.read_only {
            return error(
                ErrorCode::ReadOnly,
                "jitosd is read-only: it revokes no tokens",
            );
        }
        let _changing = lock(&self.changes);
        let tokens = Arc::clone(&lock(&self.tokens));
        let found = tokens
            .values()
            .find(|t| t.hash.get(..ID_HEX_DIGITS) == Some(id))
            .filter(|t| t.uid == principal.uid || principal.roles.has(Role::Admin))
            .cloned();
        let Some(found) = found else {
            return error(
                ErrorCode::NotFound,
                format!("you hold no token {id:?}; `jitos token list` lists yours"),
            );
        };
        // Refused from now on, whatever the disk says next: a revocation fails closed.
        let mut changed = (*tokens).clone();
        changed.remove(&found.hash);
        *lock(&self.tokens) = Arc::new(changed);
        if let Err(source) = crate::private_file::remove(&self.dir, id) {
            let path = self.dir.join(id);
            return error(
                ErrorCode::Storage,
                format!(
                    "token {id} is refused from now on, but its file could not be removed \
                     ({}): remove that file by hand, or the token stands again when jitosd \
                     restarts",
                    TokenError::Io { path, source }
                ),
            );
        }
        Response::Tokens(self.list(principal))
    }

    fn write(&self, stored: &Stored) -> Result<(), TokenError> {
        let id = &stored.hash[..ID_HEX_DIGITS];
        let io = |source| TokenError::Io {
            path: self.dir.join(id),
            source,
        };
        let bytes = serde_json::to_vec(stored).map_err(|e| io(std::io::Error::other(e)))?;
        crate::private_file::write(&self.dir, id, &bytes).map_err(io)
    }
}

/// A token file's contents, if it is one: bounded, then parsed.
fn read_stored(path: &Path) -> Option<Stored> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(FILE_BYTES_MAX).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn view_of(stored: &Stored) -> TokenView {
    let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(stored.uid))
        .ok()
        .flatten()
        .map_or_else(|| format!("uid {}", stored.uid), |user| user.name);
    TokenView {
        id: stored.hash[..ID_HEX_DIGITS].to_owned(),
        name: stored.name.clone(),
        uid: stored.uid,
        user,
        created_ms: stored.created_ms,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use jitos_gov::{Role, Roles};

    use super::*;

    fn someone(uid: u32, role: Role) -> Principal {
        Principal {
            uid,
            user: format!("uid {uid}"),
            roles: Roles::of(role),
        }
    }

    fn created(store: &TokenStore, principal: &Principal) -> TokenCreated {
        match store.create(principal, "laptop") {
            Response::TokenCreated(created) => created,
            other => panic!("not created: {other:?}"),
        }
    }

    #[test]
    fn a_token_stands_for_its_creator_across_a_reopen_and_not_after_revocation() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path(), false).unwrap();
        let alice = someone(1000, Role::Viewer);
        let made = created(&store, &alice);
        assert!(made.token.starts_with(TOKEN_PREFIX));
        let (uid, hash) = store.holder(&made.token).unwrap();
        assert_eq!(uid, 1000);
        assert_eq!(store.holder("jitos_guess"), None);
        // Only the hash is on disk.
        let on_disk =
            std::fs::read_to_string(dir.path().join(TOKENS_DIR).join(&made.view.id)).unwrap();
        assert!(!on_disk.contains(&made.token));

        let reopened = TokenStore::open(dir.path(), false).unwrap();
        assert_eq!(reopened.still_held(&hash), Some(1000));

        // Someone else, not an admin, can neither see nor revoke it.
        let bob = someone(1001, Role::Operator);
        assert!(reopened.list(&bob).is_empty());
        assert!(matches!(
            reopened.revoke(&bob, &made.view.id),
            Response::Error(_)
        ));
        assert_eq!(reopened.list(&alice), vec![made.view.clone()]);

        assert_eq!(
            reopened.revoke(&alice, &made.view.id),
            Response::Tokens(Vec::new())
        );
        assert_eq!(reopened.holder(&made.token), None);
        assert_eq!(
            TokenStore::open(dir.path(), false)
                .unwrap()
                .holder(&made.token),
            None
        );
    }

    #[test]
    fn bad_names_stray_files_and_a_full_quota_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::open(dir.path(), false).unwrap();
        let alice = someone(1000, Role::Viewer);
        assert!(matches!(store.create(&alice, ""), Response::Error(_)));
        assert!(matches!(store.create(&alice, "a\nb"), Response::Error(_)));
        for _ in 0..TOKENS_PER_USER_MAX {
            created(&store, &alice);
        }
        assert!(matches!(
            store.create(&alice, "one more"),
            Response::Error(_)
        ));
        let tokens = dir.path().join(TOKENS_DIR);
        std::fs::write(tokens.join("stray"), b"{not json").unwrap();
        std::fs::write(tokens.join(".0123.new"), b"half").unwrap();
        let reopened = TokenStore::open(dir.path(), false).unwrap();
        assert_eq!(reopened.list(&alice).len(), TOKENS_PER_USER_MAX);
        assert!(!tokens.join(".0123.new").exists());
        assert!(tokens.join("stray").exists());
    }
}
