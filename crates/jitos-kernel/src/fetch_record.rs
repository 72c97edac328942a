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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::job_record::{FailureCause, JobRecord, KIND_JOB_FAILED, KIND_JOB_FAILED_V2};

    fn records() -> Vec<FetchRecord> {
        let base = FetchRecord {
            attempt: 7,
            method: Method::Post,
            url: "http://127.0.0.1:8080/v1/chat/completions".to_owned(),
            origin: "http://127.0.0.1:8080".to_owned(),
            headers: vec![(
                "Authorization".to_owned(),
                "Bearer ${secret:model-key}".to_owned(),
            )],
            body: Body::Inline(br#"{"model":"m"}"#.to_vec()),
            idempotency_key: Some("llm-7-1-1-0".to_owned()),
            end: FetchEnd::Response {
                status: 200,
                headers: vec![("content-type".to_owned(), "application/json".to_owned())],
                body: Body::Blob(BlobRef([9; 32])),
            },
            duration_ms: 120,
            usage: Some(ModelUsage {
                model: "m".to_owned(),
                prompt_tokens: 100,
                completion_tokens: 20,
                cost_millicents: 3,
                estimated: false,
            }),
        };
        let refused = FetchRecord {
            method: Method::Get,
            idempotency_key: None,
            end: FetchEnd::Refused {
                reason: "writ 3 does not allow GET to http://x:80".to_owned(),
            },
            usage: None,
            ..base.clone()
        };
        let failed = FetchRecord {
            method: Method::Delete,
            end: FetchEnd::Failed {
                reason: "no whole response within 900 ms".to_owned(),
            },
            usage: None,
            ..base.clone()
        };
        vec![base, refused, failed]
    }

    /// The blake3 of the bytes version 1 writes for `records()`, in order, pinned: a
    /// change here is a new version, not an edit.
    const GOLDEN: [&str; 3] = [
        "eefffeb92b2f3f7400986566262fa2c2914676e4e0ce8998f759ef82c2469a9a",
        "061a4eed8afde3d1d59676d8353b854e9e8e4cd921efadf459c5d05cfa944a27",
        "7742e23145c881599b5bf6d0f1f55133f4b9316858db0ee93ee17544eb520222",
    ];

    // Goal: each outcome of a fetch reads back as written, with its bytes pinned, and the
    // blobs it names are its large bodies. Method: encode, decode, hash.
    #[test]
    fn version_1_reads_back_what_it_wrote_and_its_bytes_are_pinned() {
        for (record, golden) in records().iter().zip(GOLDEN) {
            let bytes = record.encode().unwrap();
            assert_eq!(&FetchRecord::decode(&bytes).unwrap(), record);
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), golden, "{record:?}");
        }
        assert_eq!(
            records()[0].blobs().collect::<Vec<_>>(),
            vec![BlobRef([9; 32])]
        );
        assert_eq!(records()[1].blobs().count(), 0);
    }

    // Goal: an inline body past the limit does not read (a decoder bounded by the kind's
    // own limit, not only the payload's).
    #[test]
    fn an_oversized_inline_body_does_not_read() {
        let mut record = records().remove(1);
        record.body = Body::Inline(vec![0; FETCH_INLINE_BYTES_MAX + 1]);
        assert!(FetchRecord::decode(&record.encode().unwrap()).is_err());
    }

    // Goal: a budget failure is written as job.failed@2 and reads back; every other cause
    // stays version 1, so stores of earlier builds hold the bytes they always did.
    #[test]
    fn a_budget_failure_is_version_2_and_others_stay_version_1() {
        let budget = JobRecord::Failed {
            attempt: 4,
            cause: FailureCause::Budget,
            detail: "writ 2's budget of tokens is spent".to_owned(),
        };
        assert_eq!(budget.kind(), KIND_JOB_FAILED_V2);
        let bytes = budget.encode().unwrap();
        assert_eq!(
            JobRecord::decode(KIND_JOB_FAILED_V2, &bytes).unwrap(),
            budget
        );
        assert!(JobRecord::decode(KIND_JOB_FAILED, &bytes).is_err());
        let worker = JobRecord::Failed {
            attempt: 4,
            cause: FailureCause::Worker,
            detail: "no".to_owned(),
        };
        assert_eq!(worker.kind(), KIND_JOB_FAILED);
        let bytes = worker.encode().unwrap();
        assert_eq!(JobRecord::decode(KIND_JOB_FAILED, &bytes).unwrap(), worker);
    }
}
