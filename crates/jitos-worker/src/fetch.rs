//! `fetch`: an HTTP request a worker asks the daemon to make for it, and the answer.
//!
//! A worker has no network of its own. It sends a [`FetchRequest`] for the job in flight;
//! the daemon checks it against the job's writ, makes it, records request and response in
//! the ledger, and only then answers with a [`FetchReply`]. Header values may name a secret
//! as `${secret:NAME}`: the daemon puts the value in on the way out and the worker never
//! sees it (`docs/WORKER_PROTOCOL.md`, *Fetch*).

use serde::{Deserialize, Serialize};

use crate::{limits::*, ProtocolError};

/// An HTTP method a fetch may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// `PUT`.
    Put,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl Method {
    /// Every method, in tag order.
    pub const ALL: [Method; 6] = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
    ];

    /// Its name on the wire of HTTP.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    /// Whether a request with it reads only, so it may be made without an idempotency key.
    pub fn is_safe(self) -> bool {
        matches!(self, Method::Get | Method::Head)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Method {
    type Err = String;

    fn from_str(text: &str) -> Result<Method, String> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(text))
            .ok_or_else(|| {
                format!("{text:?} is not a method a fetch may use: GET, HEAD, POST, PUT, PATCH or DELETE")
            })
    }
}

/// One header of a request or response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Its name.
    pub name: String,
    /// Its value; in a request it may name secrets as `${secret:NAME}`.
    pub value: String,
}

impl Header {
    /// A header.
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Header {
        Header {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// Worker → daemon: make this request for the job in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchRequest {
    /// The job.
    pub job_id: u64,
    /// The method.
    pub method: Method,
    /// An absolute `http` or `https` URL.
    pub url: String,
    /// Headers to send.
    pub headers: Vec<Header>,
    /// The body to send.
    pub body: Vec<u8>,
    /// Required for a method that is not safe; sent as `Idempotency-Key`, so a request
    /// repeated after a crash can be recognised by the server.
    pub idempotency_key: Option<String>,
}

/// A response the daemon received and recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The headers, in the order received.
    pub headers: Vec<Header>,
    /// The body, whole.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first value of header `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }
}

/// What became of a fetch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FetchOutcome {
    /// Tag 0: the server answered (any status).
    Response(HttpResponse),
    /// Tag 1: not sent: the writ, the worker's manifest or a limit does not allow it.
    Refused {
        /// Why, for a person.
        reason: String,
    },
    /// Tag 2: sent, or tried, but no whole response came back: the host could not be
    /// reached, the time ran out, or the response broke a limit.
    Failed {
        /// Why, for a person.
        reason: String,
    },
}

/// Daemon → worker: the answer to the job's fetch, after it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FetchReply {
    /// The job.
    pub job_id: u64,
    /// What became of it.
    pub outcome: FetchOutcome,
}

fn check(what: &'static str, actual: usize, max: usize) -> Result<(), ProtocolError> {
    if actual > max {
        return Err(ProtocolError::Limit { what, actual, max });
    }
    Ok(())
}

fn check_headers(headers: &[Header]) -> Result<(), ProtocolError> {
    check("fetch headers", headers.len(), FETCH_HEADERS_MAX)?;
    for header in headers {
        check(
            "fetch header bytes",
            header.name.len() + header.value.len(),
            FETCH_HEADER_BYTES_MAX,
        )?;
    }
    Ok(())
}

impl FetchRequest {
    /// A request with no headers, no body and no idempotency key; the SDK fills in the
    /// job when it is sent (`Context::fetch`).
    pub fn new(method: Method, url: impl Into<String>) -> FetchRequest {
        FetchRequest {
            job_id: 0,
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
            idempotency_key: None,
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> FetchRequest {
        self.headers.push(Header::new(name, value));
        self
    }

    /// Sets the body.
    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> FetchRequest {
        self.body = body.into();
        self
    }

    /// Sets the idempotency key.
    #[must_use]
    pub fn idempotency_key(mut self, key: impl Into<String>) -> FetchRequest {
        self.idempotency_key = Some(key.into());
        self
    }

    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), ProtocolError> {
        check("fetch url bytes", self.url.len(), FETCH_URL_BYTES_MAX)?;
        check_headers(&self.headers)?;
        check("fetch body bytes", self.body.len(), FETCH_BODY_BYTES_MAX)?;
        if let Some(key) = &self.idempotency_key {
            check(
                "fetch idempotency key bytes",
                key.len(),
                IDEMPOTENCY_KEY_BYTES_MAX,
            )?;
        }
        Ok(())
    }
}

impl FetchReply {
    /// Checks every field against its limit.
    pub fn check_limits(&self) -> Result<(), ProtocolError> {
        match &self.outcome {
            FetchOutcome::Response(response) => {
                check_headers(&response.headers)?;
                check(
                    "fetch body bytes",
                    response.body.len(),
                    FETCH_BODY_BYTES_MAX,
                )
            }
            FetchOutcome::Refused { reason } | FetchOutcome::Failed { reason } => {
                check("fetch reason bytes", reason.len(), REASON_BYTES_MAX)
            }
        }
    }
}
