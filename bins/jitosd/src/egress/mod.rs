//! Egress of `network` jobs: a forward proxy per attempt, the only way out of the
//! attempt's network namespace (`docs/SANDBOX.md`, *Network jobs*).
//!
//! [`AttemptEgress::open`] makes the namespace (`jitos_sandbox::NetNamespace`: only `lo`,
//! and the proxy's listener on 127.0.0.1 there) and serves the listener from the daemon's
//! runtime ([`Proxy::start`]). The proxy takes HTTP `CONNECT host:port` (tunnels, so TLS
//! stays end to end) and plain HTTP with an absolute URI (forwarded in origin form), lets
//! through only destinations its [`EgressAllow`] names, refuses everything else with a 403
//! that says why, and connects from the daemon's own namespace. Each connection ends in
//! one [`ConnectionReport`] (destination, allowed or refused and why, bytes each way,
//! duration) handed to the caller's [`Reporter`], which turns it into a record.
//!
//! A request head is bounded in bytes, header fields and time (`head.rs`); a bad client
//! gets an error answer or is closed, and ends only its own connection.

mod allow;
mod attempt;
mod head;
mod proxy;

use std::sync::Arc;

pub(crate) use allow::other_host;
pub use allow::EgressAllow;
pub use attempt::{AttemptEgress, EgressError, PROXY_PORT};
pub use head::{HEADERS_MAX, HEAD_BYTES_MAX, HEAD_READ_TIMEOUT};
pub use proxy::{Proxy, CONNECTIONS_MAX, CONNECT_TIMEOUT};

/// Where a connection asked to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// The host as compared with the allow list: lowercase, an IPv6 address in brackets.
    pub host: String,
    /// The port.
    pub port: u16,
}

impl std::fmt::Display for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// How a connection through the proxy ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// Allowed: bytes were relayed until a side closed, or the attempt ended.
    Relayed,
    /// Refused by the proxy: a destination the allow list does not name, or a request it
    /// does not serve (not HTTP, too large, too slow). The reason says which.
    Refused {
        /// Why, as the client was told.
        reason: String,
    },
    /// Allowed, but the destination could not be reached (no address, refused, timed out).
    Failed {
        /// Why, as the client was told.
        reason: String,
    },
}

/// One connection to the proxy, reported once it has ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionReport {
    /// Where it asked to go; `None` when its request head could not be read.
    pub destination: Option<Destination>,
    /// The request's method: `CONNECT`, or the method of a forwarded plain request.
    pub method: Option<String>,
    /// How it ended.
    pub end: ConnectionEnd,
    /// Bytes sent to the destination (a forwarded request's head included).
    pub bytes_up: u64,
    /// Bytes received from the destination and passed to the client.
    pub bytes_down: u64,
    /// From accept to close.
    pub duration_ms: u64,
}

impl ConnectionReport {
    /// Whether the proxy let it through (relayed, or allowed but unreachable).
    pub fn allowed(&self) -> bool {
        !matches!(self.end, ConnectionEnd::Refused { .. })
    }
}

/// Where reports go. Called on the daemon's runtime, once per connection, as it ends: it
/// must not block (send to a channel, or hand the record to the kernel's queue).
pub type Reporter = Arc<dyn Fn(ConnectionReport) + Send + Sync>;
