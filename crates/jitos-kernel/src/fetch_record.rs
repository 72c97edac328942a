//! `job.fetch`: an HTTP request the daemon made (or refused to make) for a running attempt,
//! with what came back, recorded before the worker hears the answer.
//!
//! The record is what a replay and a person read of the call: method, URL and headers as
//! the worker sent them (secrets still named, never their values; the daemon also masks any
//! secret value it finds), both bodies (inline when small, otherwise blobs stored in the
//! same write), the outcome, how long it took, and for a call to a model endpoint the
//! tokens and cost charged to the process's writ. The fold checks that a request that went
//! out was within the writ's egress, and charges the usage to the writ and its ancestors.

use jitos_warp::BlobRef;
use jitos_worker::Method;

use crate::durable::{self, v1::fetch as durable_v1, Frozen, PayloadError};

/// An HTTP request made for an attempt.
pub const KIND_JOB_FETCH: &str = "job.fetch";

/// The largest body kept inside the record; a larger one is a blob.
pub const FETCH_INLINE_BYTES_MAX: usize = 16 * 1024;

/// The counter of a writ's budget that model tokens are charged to.
pub const TOKENS_COUNTER: &str = "tokens";
/// The counter of a writ's budget that model cost is charged to, in thousandths of a cent.
pub const COST_COUNTER: &str = "cost_millicents";

/// A body, as the record keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Up to [`FETCH_INLINE_BYTES_MAX`] bytes, in the record.
    Inline(Vec<u8>),
    /// A larger body, stored as a blob with the record.
    Blob(BlobRef),
}

/// What became of the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchEnd {
    /// The server answered.
    Response {
        /// Its status code.
        status: u16,
        /// Its headers, in order.
        headers: Vec<(String, String)>,
        /// Its body.
        body: Body,
    },
    /// Not sent: the writ, the worker's manifest, a limit or the budget did not allow it.
    Refused {
        /// Why.
        reason: String,
    },
    /// Sent or tried, but no whole response came back.
    Failed {
        /// Why.
        reason: String,
    },
}

/// What a call to a model endpoint used, and what it was charged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelUsage {
    /// The model, as the request named it.
    pub model: String,
    /// Tokens of the prompt.
    pub prompt_tokens: u64,
    /// Tokens of the completion.
    pub completion_tokens: u64,
    /// Its cost from the operator's price table, in thousandths of a cent.
    pub cost_millicents: u64,
    /// Whether the counts are the daemon's estimate (the response reported none).
    pub estimated: bool,
}

impl ModelUsage {
    /// Prompt and completion tokens together.
    pub fn tokens(&self) -> u64 {
        self.prompt_tokens.saturating_add(self.completion_tokens)
    }
}

/// `job.fetch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchRecord {
    /// The attempt (its dispatch's seq).
    pub attempt: u64,
    /// The method.
    pub method: Method,
    /// The URL, with any secret value masked.
    pub url: String,
    /// Its origin, `scheme://host:port`, which the writ's egress is checked against.
    pub origin: String,
    /// The request's headers as the worker sent them, masked.
    pub headers: Vec<(String, String)>,
    /// The request's body.
    pub body: Body,
    /// The idempotency key sent.
    pub idempotency_key: Option<String>,
    /// What came of it.
    pub end: FetchEnd,
    /// Milliseconds from sending to the whole response.
    pub duration_ms: u64,
    /// For a call to a model endpoint: what it used and was charged.
    pub usage: Option<ModelUsage>,
}

impl FetchRecord {
    /// Whether the request went out (or was tried): anything but a refusal.
    pub fn was_sent(&self) -> bool {
        !matches!(self.end, FetchEnd::Refused { .. })
    }

    /// The blobs it names.
    pub fn blobs(&self) -> impl Iterator<Item = BlobRef> + '_ {
        let response = match &self.end {
            FetchEnd::Response { body, .. } => Some(body),
            _ => None,
        };
        [Some(&self.body), response]
            .into_iter()
            .flatten()
            .filter_map(|body| match body {
                Body::Blob(blob) => Some(*blob),
                Body::Inline(_) => None,
            })
    }

    /// The payload bytes (version 1).
    pub fn encode(&self) -> Result<Vec<u8>, PayloadError> {
        durable::encode(&durable_v1::FetchRecord::freeze(self))
    }

    /// Decodes a `job.fetch` payload.
    pub fn decode(bytes: &[u8]) -> Result<FetchRecord, PayloadError> {
        durable::decode::<durable_v1::FetchRecord>(bytes)?.thaw()
    }
}
