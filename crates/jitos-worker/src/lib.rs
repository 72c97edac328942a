//! The JITOS worker protocol and SDK: the messages a worker and the daemon exchange over
//! the worker's socket (fd 3), their limits, and both ends of the conversation.
//!
//! A worker binary calls [`run`] with a [`Handler`]; the daemon wraps its end of the
//! socket in a [`WorkerChannel`] (which refuses passed file descriptors) and that in a
//! [`DaemonEnd`]. Both ends share the message types, the limit checks and the
//! framing (which is `jitos_proto::frame`), so they cannot drift apart. The wire format is
//! specified in `docs/WORKER_PROTOCOL.md`.
//!
//! Architecture Invariant: a worker only *proposes*. Nothing here applies a rewrite or
//! touches the ledger; the kernel validates and records what a [`Proposal`] carries.
//!
//! API Boundary: this crate is the contract with out-of-process (possibly third-party)
//! workers; changing a message's shape means bumping [`PROTOCOL_VERSION`].

mod channel;
mod codec;
mod daemon;
mod error;
mod fd3;
mod fetch;
pub mod limits;
mod manifest;
mod message;
mod worker;

pub use channel::WorkerChannel;
pub use codec::{
    decode_daemon_message, decode_worker_message, encode_daemon_message, encode_worker_message,
};
pub use daemon::DaemonEnd;
pub use error::ProtocolError;
pub use fd3::run;
pub use fetch::{FetchOutcome, FetchReply, FetchRequest, Header, HttpResponse, Method};
pub use manifest::{
    Access, EffectClass, InputKind, InputSchema, LimitsRequest, Manifest, ManifestError, Need,
    SandboxProfile, MANIFEST_BYTES_MAX, MANIFEST_NAME_BYTES_MAX, MANIFEST_NEEDS_MAX,
    MANIFEST_VERSION_BYTES_MAX,
};
pub use message::{
    Artifact, DaemonMessage, Failure, Job, LogLine, Progress, Proposal, Usage, WorkerHello,
    WorkerMessage, MAGIC, PROTOCOL_VERSION,
};
pub use worker::{serve, truncate, Context, Handler, Outcome};
