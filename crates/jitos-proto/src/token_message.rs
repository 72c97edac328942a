//! Bearer tokens for the HTTP API: each stands for the user who created it.

use serde::{Deserialize, Serialize};

/// One token, as listed: never its secret, which is shown once, at creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    /// Its public id: the first hex digits of its hash, for listing and revoking.
    pub id: String,
    /// The name its creator gave it.
    pub name: String,
    /// The user it stands for.
    pub uid: u32,
    /// That user's name, as this host knows it.
    pub user: String,
    /// When it was created, milliseconds since the Unix epoch.
    pub created_ms: u64,
}

/// A token just created: its secret, shown this once, and how it is listed. Its `Debug`
/// prints no byte of the secret, so no log of an answer shows it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreated {
    /// The secret to present as `Authorization: Bearer …`; the daemon keeps only its hash.
    pub token: String,
    /// How it is listed.
    pub view: TokenView,
}

impl std::fmt::Debug for TokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreated")
            .field("token", &"[shown once]")
            .field("view", &self.view)
            .finish()
    }
}
