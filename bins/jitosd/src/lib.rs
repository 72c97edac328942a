//! The JITOS daemon as a library: `jitosd`'s `main` and the CLI's embedded demo daemon
//! both run [`Daemon`], and the CLI's offline mode answers queries with [`answer`].

mod access;
mod asking;
mod collapse;
mod connection;
mod daemon;
pub mod egress;
pub mod fetch;
mod frame_io;
pub mod http;
mod jobs;
mod lock;
pub mod metrics;
pub mod otlp;
mod private_file;
pub mod processes;
mod reading;
pub mod reload;
mod reply;
mod run_environment;
pub mod secrets;
pub mod settings;
pub mod socket;
pub mod tokens;
mod writs;

pub mod answer;
pub mod cli;
pub mod paths;
pub mod policy_file;
pub mod views;

pub use access::Access;
pub use daemon::{Daemon, DaemonConfig, DaemonError};
pub use jobs::{PolicyError, WarmConfig, WorkerConfig, WorkerPolicy};
pub use lock::{DataDirLock, LockError};
pub use socket::SocketError;
