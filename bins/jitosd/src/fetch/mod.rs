//! `fetch`: HTTP requests the daemon makes for a worker (`docs/FETCH.md`).
//!
//! A worker asks with a `Fetch` message; `Fetcher::serve` checks it against the job's
//! manifest, writ, effect class and budget (`admit.rs`), sends it from the daemon with
//! the system's root certificates (`send.rs`), meters a model call (`models.rs`), and
//! records request and outcome as `job.fetch` (secrets masked, large bodies as blobs)
//! before the worker hears the answer: what the worker saw is exactly what the ledger
//! holds, so a replay reads it and never touches the network. A refused fetch is
//! recorded too; one refused for a spent budget also ends its attempt, as failed by
//! `budget`.

mod admit;
mod models;
mod resolve;
mod send;

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use jitos_kernel::{
    Body, Command, FailureCause, FetchEnd, FetchRecord, KernelHandle, FETCH_INLINE_BYTES_MAX,
};
use jitos_worker::{
    limits::{FETCH_BODY_BYTES_MAX, FETCH_HEADERS_MAX, FETCH_HEADER_BYTES_MAX, REASON_BYTES_MAX},
    truncate, FetchOutcome, FetchRequest, Header, HttpResponse,
};

use crate::secrets::{Redactor, SecretStore};

pub use models::{Models, ModelsError};

/// Time kept back from the job's deadline when a request is sent, to record its outcome
/// and answer the worker before the deadline kills it.
const RECORD_MARGIN: Duration = Duration::from_millis(300);
/// How often a request in flight looks at its attempt's cancel flag.
const CANCEL_CHECK_EVERY: Duration = Duration::from_millis(50);
/// The most fetches one attempt may ask for: each is a synced record, so a worker that
/// asked without end would fill the ledger.
pub(crate) const FETCHES_PER_ATTEMPT_MAX: usize = 1024;

/// Makes the requests workers ask for.
pub struct Fetcher {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
    kernel: KernelHandle,
    secrets: Arc<SecretStore>,
    models: Models,
}

/// The attempt a fetch is for.
pub(crate) struct Asker<'a> {
    /// The attempt.
    pub(crate) attempt: u64,
    /// Its worker's name, the actor of the record.
    pub(crate) worker: &'a str,
    /// Whether the worker's manifest asks for `fetch`.
    pub(crate) manifest_fetch: bool,
    /// When the attempt's deadline passes.
    pub(crate) deadline: Instant,
    /// Its cancellation.
    pub(crate) cancel: &'a AtomicBool,
}

/// Why a fetch ended its attempt.
pub(crate) type Ending = (FailureCause, String);

impl Fetcher {
    /// A fetcher that sends on `runtime`, records through `kernel`, fills in and masks the
    /// secrets of `secrets`, and meters calls to the endpoints of `models`.
    pub fn new(
        runtime: tokio::runtime::Handle,
        kernel: KernelHandle,
        secrets: Arc<SecretStore>,
        models: Models,
    ) -> Result<Fetcher, String> {
        let client = reqwest::Client::builder()
            // Redirects are followed by the worker, each a fetch of its own that the writ
            // checks; the daemon never goes where the writ was not asked about.
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(resolve::OtherHostsOnly))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Fetcher {
            client,
            runtime,
            kernel,
            secrets,
            models,
        })
    }

    /// Serves one fetch of `asker`: checked, sent, recorded, then answered. `Err` ends the
    /// attempt: its budget is spent, or its outcome could not be recorded (then nothing
    /// may be answered, since the worker would act on what the ledger does not hold).
    pub(crate) fn serve(
        &self,
        asker: &Asker<'_>,
        request: FetchRequest,
    ) -> Result<FetchOutcome, Ending> {
        let stored = self.secrets.values();
        let redactor = self.secrets.redactor(&[]);
        let view = self.kernel.view();
        let state = view.state();
        let attempt = state.jobs.attempt(asker.attempt);
        let process = attempt.and_then(|a| a.dispatch.owner).map(|o| o.process);
        let grant = admit::Grant {
            manifest_fetch: asker.manifest_fetch,
            effect: state
                .attempt_effect(asker.attempt)
                .unwrap_or(jitos_gov::Effect::None),
            writ: process.and_then(|p| state.writs.of_process(p).map(Arc::as_ref)),
            budget_left: process
                .map(|p| state.writs.budget_left(p))
                .unwrap_or_default(),
            stored: &stored,
            models: &self.models,
        };
        let started = Instant::now();
        let admitted = admit::admit(&request, &grant);
        drop(view);
        let (origin, end, usage, budget_spent) = match admitted {
            Err(refusal) => (
                admit::origin_of_text(&request.url),
                FetchEnd::Refused {
                    reason: refusal.reason.clone(),
                },
                None,
                refusal.budget.then_some(refusal.reason),
            ),
            Ok(admitted) => {
                let sent_body = admitted.outgoing.body.clone();
                let within = asker
                    .deadline
                    .saturating_duration_since(Instant::now())
                    .saturating_sub(RECORD_MARGIN);
                let incoming = self.send(admitted.outgoing, within, asker.cancel);
                let usage = match (&incoming, admitted.model_call) {
                    (Ok(incoming), true) => Some(self.models.meter(
                        &sent_body,
                        &incoming.body,
                        (200..300).contains(&incoming.status),
                    )),
                    _ => None,
                };
                let end = match incoming {
                    Ok(incoming) => FetchEnd::Response {
                        status: incoming.status,
                        headers: incoming
                            .headers
                            .into_iter()
                            .map(|h| (redactor.text(&h.name), redactor.text(&h.value)))
                            .collect(),
                        body: Body::Inline(redactor.bytes(&incoming.body).into_owned()),
                    },
                    Err(reason) => FetchEnd::Failed {
                        reason: redactor.text(&reason),
                    },
                };
                (admitted.origin, end, usage, None)
            }
        };
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let end = within_limits(end);
        let outcome = outcome_of(&end);
        let (record, blobs) = record_of(
            asker.attempt,
            &request,
            origin,
            end,
            duration_ms,
            usage,
            &redactor,
        );
        let recorded = self.kernel.execute_blocking(
            crate::jobs::worker_actor(asker.worker),
            Command::JobFetch {
                record: Box::new(record),
                blobs,
            },
        );
        if let Err(e) = recorded {
            return Err((
                FailureCause::Protocol,
                format!("the daemon could not record the worker's fetch, so it ends here: {e}"),
            ));
        }
        match budget_spent {
            Some(reason) => Err((FailureCause::Budget, reason)),
            None => Ok(outcome),
        }
    }

    /// Sends on the runtime, giving up when the attempt is cancelled.
    fn send(
        &self,
        outgoing: send::Outgoing,
        within: Duration,
        cancel: &AtomicBool,
    ) -> Result<send::Incoming, String> {
        let client = self.client.clone();
        self.runtime.block_on(async move {
            let sending = send::send(&client, outgoing, within);
            tokio::pin!(sending);
            loop {
                tokio::select! {
                    result = &mut sending => return result,
                    () = tokio::time::sleep(CANCEL_CHECK_EVERY) => {
                        if cancel.load(Ordering::Relaxed) {
                            return Err("the job was cancelled while the request was in flight".to_owned());
                        }
                    }
                }
            }
        })
    }
}

/// `end` as the protocol can carry it: a reason cut to its limit, and a response with
/// more headers, a longer header or a longer body than a reply may hold (a server's, or
/// grown by masking a secret) turned into a failure that says which.
fn within_limits(end: FetchEnd) -> FetchEnd {
    let failed = |reason: String| FetchEnd::Failed { reason };
    match end {
        FetchEnd::Response { headers, .. } if headers.len() > FETCH_HEADERS_MAX => failed(format!(
            "the response has {} headers, over the {FETCH_HEADERS_MAX} a fetch may carry",
            headers.len()
        )),
        FetchEnd::Response { headers, .. }
            if headers
                .iter()
                .any(|(name, value)| name.len() + value.len() > FETCH_HEADER_BYTES_MAX) =>
        {
            failed(format!(
                "a response header is over the {FETCH_HEADER_BYTES_MAX} bytes a fetch may carry"
            ))
        }
        FetchEnd::Response {
            body: Body::Inline(body),
            ..
        } if body.len() > FETCH_BODY_BYTES_MAX => failed(format!(
            "the response body passed {FETCH_BODY_BYTES_MAX} bytes"
        )),
        FetchEnd::Refused { reason } => FetchEnd::Refused {
            reason: truncate(&reason, REASON_BYTES_MAX),
        },
        FetchEnd::Failed { reason } => failed(truncate(&reason, REASON_BYTES_MAX)),
        response => response,
    }
}

/// What the worker is answered: exactly what the record keeps.
fn outcome_of(end: &FetchEnd) -> FetchOutcome {
    match end {
        FetchEnd::Response {
            status,
            headers,
            body,
        } => FetchOutcome::Response(HttpResponse {
            status: *status,
            headers: headers
                .iter()
                .map(|(name, value)| Header::new(name, value))
                .collect(),
            body: match body {
                Body::Inline(bytes) => bytes.clone(),
                // Bodies are inline until `record_of` moves the large ones out.
                Body::Blob(_) => Vec::new(),
            },
        }),
        FetchEnd::Refused { reason } => FetchOutcome::Refused {
            reason: reason.clone(),
        },
        FetchEnd::Failed { reason } => FetchOutcome::Failed {
            reason: reason.clone(),
        },
    }
}

/// The record of a fetch, with the bodies over [`FETCH_INLINE_BYTES_MAX`] moved out as
/// blobs stored with it.
fn record_of(
    attempt: u64,
    request: &FetchRequest,
    origin: String,
    end: FetchEnd,
    duration_ms: u64,
    usage: Option<jitos_kernel::ModelUsage>,
    redactor: &Redactor,
) -> (FetchRecord, Vec<Vec<u8>>) {
    let mut blobs = Vec::new();
    let mut keep = |bytes: Vec<u8>| match bytes.len() > FETCH_INLINE_BYTES_MAX {
        true => {
            let blob = jitos_warp::BlobRef(jitos_ledger::blob_hash(&bytes).0);
            blobs.push(bytes);
            Body::Blob(blob)
        }
        false => Body::Inline(bytes),
    };
    // A refused request went nowhere: its body and headers are not kept, since any worker
    // may send one (its URL and the reason say what was asked).
    let refused = matches!(end, FetchEnd::Refused { .. });
    if refused {
        metrics::counter!(crate::metrics::EGRESS_REFUSED, "at" => "fetch").increment(1);
    }
    let body = match refused {
        true => Body::Inline(Vec::new()),
        false => keep(redactor.bytes(&request.body).into_owned()),
    };
    let headers = match refused {
        true => Vec::new(),
        false => request
            .headers
            .iter()
            .map(|h| (redactor.text(&h.name), redactor.text(&h.value)))
            .collect(),
    };
    let end = match end {
        FetchEnd::Response {
            status,
            headers,
            body: Body::Inline(bytes),
        } => FetchEnd::Response {
            status,
            headers,
            body: keep(bytes),
        },
        other => other,
    };
    let record = FetchRecord {
        attempt,
        method: request.method,
        url: redactor.text(&request.url),
        origin,
        headers,
        body,
        idempotency_key: request.idempotency_key.clone(),
        end,
        duration_ms,
        usage,
    };
    (record, blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: what a reply cannot carry becomes a failure that says why, and a long reason is
    // cut to the limit, so a legitimate fetch never breaks the protocol. Method: ends past
    // each limit, and one within.
    #[test]
    fn ends_past_the_protocols_limits_become_failures() {
        let response = |headers: Vec<(String, String)>| FetchEnd::Response {
            status: 200,
            headers,
            body: Body::Inline(b"ok".to_vec()),
        };
        let many = (0..=FETCH_HEADERS_MAX)
            .map(|i| (format!("x-{i}"), "v".to_owned()))
            .collect();
        let long = vec![("set-cookie".to_owned(), "c".repeat(FETCH_HEADER_BYTES_MAX))];
        for end in [response(many), response(long)] {
            assert!(
                matches!(within_limits(end), FetchEnd::Failed { ref reason } if reason.contains("header")),
            );
        }
        let fine = response(vec![("a".to_owned(), "b".to_owned())]);
        assert_eq!(within_limits(fine.clone()), fine);
        let FetchEnd::Failed { reason } = within_limits(FetchEnd::Failed {
            reason: "é".repeat(REASON_BYTES_MAX),
        }) else {
            panic!("a failure stays a failure");
        };
        assert!(reason.len() <= REASON_BYTES_MAX);
    }
}
