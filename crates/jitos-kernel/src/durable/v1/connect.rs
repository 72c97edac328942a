//! Version 1 of `job.connect`: a connection through a `network` attempt's proxy.

use serde::{Deserialize, Serialize};

use crate::connect_record::{
    self as live, CONNECT_HOST_BYTES_MAX, CONNECT_METHOD_BYTES_MAX, CONNECT_REASON_BYTES_MAX,
};
use crate::durable::{Frozen, PayloadError};

/// `ConnectRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ConnectRecord {
    attempt: u64,
    host: String,
    port: u16,
    method: String,
    end: ConnectEnd,
    bytes_up: u64,
    bytes_down: u64,
    duration_ms: u64,
}

/// `ConnectEnd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum ConnectEnd {
    Relayed,
    Failed { reason: String },
    Refused { reason: String },
}

fn bounded(what: &'static str, text: String, max: usize) -> Result<String, PayloadError> {
    match text.len() > max {
        true => Err(PayloadError::Invalid {
            what,
            reason: format!("it is {} bytes, over the {max} allowed", text.len()),
        }),
        false => Ok(text),
    }
}

impl Frozen for ConnectRecord {
    type Live = live::ConnectRecord;

    fn freeze(live: &live::ConnectRecord) -> ConnectRecord {
        ConnectRecord {
            attempt: live.attempt,
            host: live.host.clone(),
            port: live.port,
            method: live.method.clone(),
            end: match &live.end {
                live::ConnectEnd::Relayed => ConnectEnd::Relayed,
                live::ConnectEnd::Failed { reason } => ConnectEnd::Failed {
                    reason: reason.clone(),
                },
                live::ConnectEnd::Refused { reason } => ConnectEnd::Refused {
                    reason: reason.clone(),
                },
            },
            bytes_up: live.bytes_up,
            bytes_down: live.bytes_down,
            duration_ms: live.duration_ms,
        }
    }

    fn thaw(self) -> Result<live::ConnectRecord, PayloadError> {
        let reason = |text| bounded("reason", text, CONNECT_REASON_BYTES_MAX);
        Ok(live::ConnectRecord {
            attempt: self.attempt,
            host: bounded("host", self.host, CONNECT_HOST_BYTES_MAX)?,
            port: self.port,
            method: bounded("method", self.method, CONNECT_METHOD_BYTES_MAX)?,
            end: match self.end {
                ConnectEnd::Relayed => live::ConnectEnd::Relayed,
                ConnectEnd::Failed { reason: r } => live::ConnectEnd::Failed { reason: reason(r)? },
                ConnectEnd::Refused { reason: r } => {
                    live::ConnectEnd::Refused { reason: reason(r)? }
                }
            },
            bytes_up: self.bytes_up,
            bytes_down: self.bytes_down,
            duration_ms: self.duration_ms,
        })
    }
}
