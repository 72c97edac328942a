//! `job.connect`: a connection a `network` job's worker made through its attempt's forward
//! proxy (`docs/SANDBOX.md`, *Network jobs*), or was refused, recorded before the
//! attempt's end.
//!
//! The fold checks that a connection the proxy let through was within the process's
//! writ's egress (a host and port its entries name, or any host for a writ of any), so a
//! ledger that says otherwise does not replay.

use crate::durable::{self, v1::connect as durable_v1, Frozen, PayloadError};

/// A connection through an attempt's proxy.
pub const KIND_JOB_CONNECT: &str = "job.connect";

/// The longest host name a record holds, in bytes (DNS's bound).
pub const CONNECT_HOST_BYTES_MAX: usize = 255;
/// The longest method a record holds, in bytes (`CONNECT`, or an HTTP method).
pub const CONNECT_METHOD_BYTES_MAX: usize = 16;
/// The longest reason a record holds, in bytes.
pub const CONNECT_REASON_BYTES_MAX: usize = 1024;

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectEnd {
    /// Let through and relayed until one side closed.
    Relayed,
    /// Let through, but the destination could not be reached.
    Failed {
        /// Why.
        reason: String,
    },
    /// Not let through.
    Refused {
        /// Why.
        reason: String,
    },
}

/// `job.connect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectRecord {
    /// The attempt (its dispatch's seq).
    pub attempt: u64,
    /// The host it asked for (lowercase; an IPv6 address in brackets); empty when its
    /// request could not be read.
    pub host: String,
    /// The port it asked for (0 when unread).
    pub port: u16,
    /// `CONNECT`, or the method of a plain request it forwarded.
    pub method: String,
    /// How it ended.
    pub end: ConnectEnd,
    /// Bytes sent to the destination.
    pub bytes_up: u64,
    /// Bytes received from it.
    pub bytes_down: u64,
    /// From accept to close, in ms.
    pub duration_ms: u64,
}

impl ConnectRecord {
    /// Whether the proxy let it through.
    pub fn let_through(&self) -> bool {
        !matches!(self.end, ConnectEnd::Refused { .. })
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        durable::encode(&durable_v1::ConnectRecord::freeze(self))
    }

    /// Decodes a `job.connect` payload.
    pub fn decode(bytes: &[u8]) -> Result<ConnectRecord, PayloadError> {
        durable::decode::<durable_v1::ConnectRecord>(bytes)?.thaw()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn records() -> Vec<ConnectRecord> {
        let relayed = ConnectRecord {
            attempt: 9,
            host: "pypi.org".to_owned(),
            port: 443,
            method: "CONNECT".to_owned(),
            end: ConnectEnd::Relayed,
            bytes_up: 517,
            bytes_down: 4096,
            duration_ms: 80,
        };
        let refused = ConnectRecord {
            host: "evil.example".to_owned(),
            end: ConnectEnd::Refused {
                reason: "the writ's egress does not name evil.example:443".to_owned(),
            },
            bytes_up: 0,
            bytes_down: 0,
            ..relayed.clone()
        };
        let failed = ConnectRecord {
            method: "GET".to_owned(),
            port: 80,
            end: ConnectEnd::Failed {
                reason: "connection refused".to_owned(),
            },
            ..relayed.clone()
        };
        vec![relayed, refused, failed]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 3] = [
        "1b43c80b2be848ca6b91a51c0f7995aaa7941cef53058623ba80365e2d681cc5",
        "be9a0688451c66453d153adeffa6436605099506a9597e0bdd34c530c3d14d8f",
        "56411b13b6b918d6cf7ecbb25c1907f48ade874508e4a504d5c1aa6e8fe46aa3",
    ];

    // Goal: each end reads back as written, its bytes pinned; a host past its bound does
    // not read. Method: encode, decode, hash.
    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        for (record, golden) in records().iter().zip(GOLDEN) {
            let bytes = record.encode().unwrap();
            assert_eq!(&ConnectRecord::decode(&bytes).unwrap(), record);
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), golden, "{record:?}");
        }
        let mut long = records().remove(0);
        long.host = "h".repeat(CONNECT_HOST_BYTES_MAX + 1);
        assert!(ConnectRecord::decode(&long.encode().unwrap()).is_err());
    }
}
