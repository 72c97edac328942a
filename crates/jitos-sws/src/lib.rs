//! Speculative workspaces (SWS): copy-on-write overlays over the system WARP or over
//! another workspace, with footprints, conflict-checked collapse, rebase and discard.
//!
//! Architecture invariant: this crate does no I/O and reads no clock. The kernel records
//! every operation in the ledger and calls the same functions live and on replay, so
//! everything here is deterministic: only ordered maps reach anything iterated into
//! output, and every change is stamped with the ledger sequence number the kernel gives.
//!
//! - `Pool` holds every workspace and the system's `ChangeLog`; it is the API.
//! - `View` is read access to a graph as of some point; `Merged` (base + overlay) and
//!   `AsOf` (a live view rolled back through a `ChangeLog`) implement it, and so does
//!   `jitos_warp::Graph`.
//! - A workspace applies rewrites with `Graph::apply` itself, on a small scratch graph of
//!   what the rewrite mentions, so its validation is exactly the system's.
//! - `Key` is the grain of footprints, change logs and conflicts.

mod as_of;
mod capture;
mod conflict;
mod error;
mod footprint;
mod key;
mod limits;
mod log;
mod merged;
mod net;
mod overlay;
mod pool;
mod scratch;
mod system;
mod view;
mod workspace;

pub use as_of::AsOf;
pub use conflict::{Conflict, ConflictReport, Target};
pub use error::SwsError;
pub use footprint::Footprint;
pub use key::{Key, KeyValue};
pub use limits::*;
pub use log::ChangeLog;
pub use merged::Merged;
pub use net::KeyDiff;
pub use overlay::{NodeEntry, Overlay};
pub use pool::{Collapse, Over, Pool};
pub use system::SystemCommit;
pub use view::{materialize, View};
pub use workspace::{Status, Workspace};
