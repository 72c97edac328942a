//! `jitos-worker-fetch`: a test worker that asks the daemon for HTTP requests through the
//! SDK's `Context::fetch`, so the system tests can see what the daemon checks, sends,
//! records and answers.
//!
//! Each of `Job.args` is one request as JSON: `{"method": "GET", "url": "…", "headers":
//! [["name", "value"]], "body": "…", "key": "…"}` (all but `url` optional). They are made
//! in order; the proposal carries one artifact, `outcomes`, a JSON list with one entry per
//! request: `{"response": {"status", "headers", "body"}}` (the body as lossy UTF-8, and its
//! length), `{"refused": reason}` or `{"failed": reason}`.

use jitos_worker::{Artifact, Context, FetchOutcome, FetchRequest, Handler, Job, Method, Outcome};
use serde_json::{json, Value};

struct Fetch;

impl Handler for Fetch {
    fn handle(&mut self, job: &Job, ctx: &mut Context<'_>) -> Result<Outcome, String> {
        let mut outcomes = Vec::new();
        for arg in &job.args {
            let spec: Value =
                serde_json::from_str(arg).map_err(|e| format!("{arg:?} is not JSON: {e}"))?;
            let method: Method = spec["method"]
                .as_str()
                .unwrap_or("GET")
                .parse()
                .map_err(|e: String| e)?;
            let url = spec["url"].as_str().ok_or("a request needs a url")?;
            let mut request = FetchRequest::new(method, url);
            for pair in spec["headers"].as_array().into_iter().flatten() {
                let name = pair[0].as_str().unwrap_or_default();
                let value = pair[1].as_str().unwrap_or_default();
                request = request.header(name, value);
            }
            if let Some(body) = spec["body"].as_str() {
                request = request.body(body.as_bytes().to_vec());
            }
            if let Some(key) = spec["key"].as_str() {
                request = request.idempotency_key(key);
            }
            let outcome = ctx
                .fetch(request)
                .map_err(|e| format!("the fetch broke the conversation: {e}"))?;
            outcomes.push(match outcome {
                FetchOutcome::Response(response) => json!({"response": {
                    "status": response.status,
                    "headers": response
                        .headers
                        .iter()
                        .map(|h| [h.name.clone(), h.value.clone()])
                        .collect::<Vec<_>>(),
                    "body": String::from_utf8_lossy(&response.body),
                    "body_len": response.body.len(),
                }}),
                FetchOutcome::Refused { reason } => json!({ "refused": reason }),
                FetchOutcome::Failed { reason } => json!({ "failed": reason }),
            });
        }
        Ok(Outcome {
            rewrites: Vec::new(),
            artifacts: vec![Artifact {
                name: "outcomes".to_owned(),
                bytes: serde_json::to_vec(&outcomes).map_err(|e| e.to_string())?,
            }],
            exit_status: 0,
        })
    }
}

fn main() -> std::process::ExitCode {
    jitos_worker::run("fetch", "0.1.0", Fetch)
}
