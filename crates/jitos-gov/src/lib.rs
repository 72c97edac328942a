//! Governance as data: the roles a local user holds (from the access file) and what each
//! act asks of them.
//!
//! Nothing here reads the system's user database or a socket: the daemon resolves names
//! and peer credentials and hands this crate numbers, so every rule is testable alone.

mod access_file;
mod authorize;
mod effect;
pub mod policy;
mod role;
pub mod writ;

pub use access_file::{AccessFile, Names, ACCESS_FILE_DEFAULT};
pub use authorize::{authorize, Act, Principal, Refusal};
pub use effect::Effect;
pub use role::{Role, Roles};
