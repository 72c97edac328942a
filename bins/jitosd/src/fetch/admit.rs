//! Whether a worker's fetch may be made, and the request that is sent if so.
//!
//! In order: the worker's manifest asks for `fetch`; the URL is an absolute `http` or
//! `https` URL with no credentials in it; the process's writ's egress names its origin with
//! its method; a method that is not safe carries an idempotency key and is made only by a
//! job whose effect class reaches the network or to a model endpoint; a model call finds
//! its writ's `tokens` and `cost_millicents` not spent; and each `${secret:NAME}` in a
//! header names a secret the writ grants and the daemon stores.

use std::collections::BTreeMap;

use jitos_gov::{writ::allows_request, Effect};
use jitos_kernel::{LiveWrit, COST_COUNTER, TOKENS_COUNTER};
use jitos_worker::FetchRequest;

use super::{models::Models, send::Outgoing};

/// Headers the daemon sets itself or that describe the connection, not the request.
const RESERVED_HEADERS: [&str; 7] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "idempotency-key",
    "proxy-authorization",
    "upgrade",
];

/// What a fetch is checked against.
pub(super) struct Grant<'a> {
    /// The worker's manifest asks for `fetch`.
    pub(super) manifest_fetch: bool,
    /// The job's effect class.
    pub(super) effect: Effect,
    /// The writ of the job's process, if it runs under one.
    pub(super) writ: Option<&'a LiveWrit>,
    /// What is left of each bounded budget of that writ.
    pub(super) budget_left: BTreeMap<String, u64>,
    /// The secrets the daemon stores, by name.
    pub(super) stored: &'a BTreeMap<String, String>,
    /// The model table.
    pub(super) models: &'a Models,
}

/// A fetch that may be made.
pub(super) struct Admitted {
    /// What is sent.
    pub(super) outgoing: Outgoing,
    /// `scheme://host:port`.
    pub(super) origin: String,
    /// Whether it is a model call, to meter.
    pub(super) model_call: bool,
}

/// A fetch that may not be made.
pub(super) struct Refusal {
    /// Why, for the worker and the record.
    pub(super) reason: String,
    /// Whether a spent budget refused it: the attempt then ends as failed by its budget.
    pub(super) budget: bool,
}

fn refuse(reason: impl Into<String>) -> Refusal {
    Refusal {
        reason: reason.into(),
        budget: false,
    }
}

/// The canonical origin of `url`, as a writ's egress names origins.
pub(super) fn origin_of(url: &reqwest::Url) -> Option<String> {
    let host = url.host_str()?.to_ascii_lowercase();
    let port = url.port_or_known_default()?;
    Some(format!("{}://{host}:{port}", url.scheme()))
}

/// The origin of a URL given as text; empty when it names none (a refused fetch is
/// recorded all the same).
pub(super) fn origin_of_text(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|url| origin_of(&url))
        .unwrap_or_default()
}

/// Checks `request` against `grant`.
pub(super) fn admit(request: &FetchRequest, grant: &Grant<'_>) -> Result<Admitted, Refusal> {
    if !grant.manifest_fetch {
        return Err(refuse(
            "the worker's manifest does not ask for fetch (`fetch = true` in worker.toml)",
        ));
    }
    let url = reqwest::Url::parse(&request.url)
        .map_err(|e| refuse(format!("{:?} is not an absolute URL: {e}", request.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refuse(format!(
            "the scheme {:?} is not http or https",
            url.scheme()
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse(
            "the URL holds credentials; send them in a header that names a secret, \
             `${secret:NAME}`",
        ));
    }
    let origin = origin_of(&url).ok_or_else(|| refuse("the URL names no host"))?;
    let method = request.method;
    let Some(writ) = grant.writ else {
        return Err(refuse(
            "the job runs under no writ, and only a writ's egress lets a job reach a host",
        ));
    };
    if !allows_request(&writ.writ.egress, method.as_str(), &origin) {
        return Err(refuse(format!(
            "writ {} does not allow {method} to {origin}; issue one whose egress names it \
             (`jitos writ issue --egress '{method} {origin}'`)",
            writ.id
        )));
    }
    let model_call = grant.models.is_model_call(url.as_str());
    if !method.is_safe() {
        if request.idempotency_key.as_deref().is_none_or(str::is_empty) {
            return Err(refuse(format!(
                "{method} changes what it reaches, so it needs an idempotency key"
            )));
        }
        if grant.effect < Effect::Network && !model_call {
            return Err(refuse(format!(
                "{method} to {origin} may change the world, and the job's effect class is \
                 {}: only a job of class network or above may make it (a model endpoint in \
                 the daemon's --models table is the exception)",
                grant.effect
            )));
        }
    }
    if model_call {
        for counter in [TOKENS_COUNTER, COST_COUNTER] {
            if grant.budget_left.get(counter) == Some(&0) {
                return Err(Refusal {
                    reason: format!(
                        "the budget of {counter} is spent on writ {} or a writ it was \
                         delegated from (`jitos writ show` says which); a person may raise \
                         that one (`jitos writ raise ID --budget {counter}=N`)",
                        writ.id
                    ),
                    budget: true,
                });
            }
        }
    }
    let mut headers = Vec::with_capacity(request.headers.len() + 1);
    for header in &request.headers {
        if RESERVED_HEADERS.contains(&header.name.to_ascii_lowercase().as_str()) {
            return Err(refuse(format!(
                "the header {:?} is the daemon's to set",
                header.name
            )));
        }
        let value = fill_secrets(&header.value, writ, grant.stored)?;
        if reqwest::header::HeaderName::from_bytes(header.name.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(&value).is_err()
        {
            return Err(refuse(format!(
                "the header {:?} is not a valid HTTP header",
                header.name
            )));
        }
        headers.push((header.name.clone(), value));
    }
    if let Some(key) = &request.idempotency_key {
        headers.push(("Idempotency-Key".to_owned(), key.clone()));
    }
    Ok(Admitted {
        outgoing: Outgoing {
            method,
            url,
            headers,
            body: request.body.clone(),
        },
        origin,
        model_call,
    })
}

/// `value` with each `${secret:NAME}` replaced by the secret's value.
fn fill_secrets(
    value: &str,
    writ: &LiveWrit,
    stored: &BTreeMap<String, String>,
) -> Result<String, Refusal> {
    const OPEN: &str = "${secret:";
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after
            .find('}')
            .ok_or_else(|| refuse("a header opens `${secret:` and never closes it"))?;
        let name = &after[..end];
        if !writ.writ.secrets.contains(name) {
            return Err(refuse(format!(
                "writ {} does not grant the secret {name:?}",
                writ.id
            )));
        }
        let secret = stored.get(name).ok_or_else(|| {
            refuse(format!(
                "no secret {name:?} is stored; add it with `jitos secret add {name}`"
            ))
        })?;
        out.push_str(secret);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
