//! The version handshake that opens every connection.
//!
//! The client speaks first with a [`Hello`]; the daemon answers with a [`Welcome`] or an
//! error response and closes. Both sides refuse a peer whose magic is wrong, so a stray
//! program writing to the socket fails at its first frame.

use jitos_gov::Role;
use serde::{Deserialize, Serialize};

/// Eight bytes that open every client hello.
pub const PROTOCOL_MAGIC: [u8; 8] = *b"JITOSWP\0";

/// The wire protocol version this build speaks. Bump on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 11;

/// The first frame a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Must equal [`PROTOCOL_MAGIC`].
    pub magic: [u8; 8],
    /// The protocol version the client speaks.
    pub protocol_version: u32,
    /// A free-form name of the client program, for the daemon's logs.
    pub client: String,
}

impl Hello {
    /// A hello from this build, naming the client program.
    pub fn new(client: impl Into<String>) -> Self {
        Self {
            magic: PROTOCOL_MAGIC,
            protocol_version: PROTOCOL_VERSION,
            client: client.into(),
        }
    }
}

/// The daemon's answer to an acceptable [`Hello`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Welcome {
    /// The protocol version the daemon speaks.
    pub protocol_version: u32,
    /// The daemon's own version string.
    pub daemon_version: String,
    /// The identity of the store the daemon serves (hex).
    pub store_id: String,
    /// Who the daemon takes the client for.
    pub principal: PrincipalView,
}

/// The local user on the client's end of the socket, as the daemon sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrincipalView {
    /// Their uid (from the socket's peer credentials).
    pub uid: u32,
    /// Their user name, or `uid N` when the user database has none.
    pub user: String,
    /// The roles they hold, strongest first.
    pub roles: Vec<Role>,
}
