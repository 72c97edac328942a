//! Version 1 of `job.fetch`: an HTTP request made for an attempt and what came of it.

use jitos_ledger::codec::ByteString;
use jitos_warp::BlobRef;
use serde::{Deserialize, Serialize};

use crate::durable::{Frozen, PayloadError};
use crate::fetch_record::{self as live, FETCH_INLINE_BYTES_MAX};

/// `FetchRecord`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct FetchRecord {
    attempt: u64,
    method: Method,
    url: String,
    origin: String,
    headers: Vec<(String, String)>,
    body: Body,
    idempotency_key: Option<String>,
    end: FetchEnd,
    duration_ms: u64,
    usage: Option<ModelUsage>,
}

/// `jitos_worker::Method`, frozen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
}

/// `Body`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Body {
    Inline(ByteString),
    Blob(BlobRef),
}

/// `FetchEnd`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum FetchEnd {
    Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Body,
    },
    Refused {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// `ModelUsage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ModelUsage {
    model: String,
    prompt_tokens: u64,
    completion_tokens: u64,
    cost_millicents: u64,
    estimated: bool,
}

fn freeze_body(body: &live::Body) -> Body {
    match body {
        live::Body::Inline(bytes) => Body::Inline(ByteString(bytes.clone())),
        live::Body::Blob(blob) => Body::Blob(*blob),
    }
}

fn thaw_body(body: Body) -> Result<live::Body, PayloadError> {
    match body {
        Body::Inline(ByteString(bytes)) if bytes.len() > FETCH_INLINE_BYTES_MAX => {
            Err(PayloadError::Invalid {
                what: "inline body",
                reason: format!(
                    "it is {} bytes, over FETCH_INLINE_BYTES_MAX ({FETCH_INLINE_BYTES_MAX})",
                    bytes.len()
                ),
            })
        }
        Body::Inline(ByteString(bytes)) => Ok(live::Body::Inline(bytes)),
        Body::Blob(blob) => Ok(live::Body::Blob(blob)),
    }
}

impl Frozen for FetchRecord {
    type Live = live::FetchRecord;

    fn freeze(live: &live::FetchRecord) -> FetchRecord {
        use jitos_worker::Method as M;
        FetchRecord {
            attempt: live.attempt,
            method: match live.method {
                M::Get => Method::Get,
                M::Head => Method::Head,
                M::Post => Method::Post,
                M::Put => Method::Put,
                M::Patch => Method::Patch,
                M::Delete => Method::Delete,
            },
            url: live.url.clone(),
            origin: live.origin.clone(),
            headers: live.headers.clone(),
            body: freeze_body(&live.body),
            idempotency_key: live.idempotency_key.clone(),
            end: match &live.end {
                live::FetchEnd::Response {
                    status,
                    headers,
                    body,
                } => FetchEnd::Response {
                    status: *status,
                    headers: headers.clone(),
                    body: freeze_body(body),
                },
                live::FetchEnd::Refused { reason } => FetchEnd::Refused {
                    reason: reason.clone(),
                },
                live::FetchEnd::Failed { reason } => FetchEnd::Failed {
                    reason: reason.clone(),
                },
            },
            duration_ms: live.duration_ms,
            usage: live.usage.as_ref().map(|usage| ModelUsage {
                model: usage.model.clone(),
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cost_millicents: usage.cost_millicents,
                estimated: usage.estimated,
            }),
        }
    }

    fn thaw(self) -> Result<live::FetchRecord, PayloadError> {
        use jitos_worker::Method as M;
        Ok(live::FetchRecord {
            attempt: self.attempt,
            method: match self.method {
                Method::Get => M::Get,
                Method::Head => M::Head,
                Method::Post => M::Post,
                Method::Put => M::Put,
                Method::Patch => M::Patch,
                Method::Delete => M::Delete,
            },
            url: self.url,
            origin: self.origin,
            headers: self.headers,
            body: thaw_body(self.body)?,
            idempotency_key: self.idempotency_key,
            end: match self.end {
                FetchEnd::Response {
                    status,
                    headers,
                    body,
                } => live::FetchEnd::Response {
                    status,
                    headers,
                    body: thaw_body(body)?,
                },
                FetchEnd::Refused { reason } => live::FetchEnd::Refused { reason },
                FetchEnd::Failed { reason } => live::FetchEnd::Failed { reason },
            },
            duration_ms: self.duration_ms,
            usage: self.usage.map(|usage| live::ModelUsage {
                model: usage.model,
                prompt_tokens: usage.prompt_tokens,
                completion_tokens: usage.completion_tokens,
                cost_millicents: usage.cost_millicents,
                estimated: usage.estimated,
            }),
        })
    }
}
