//! Sending an admitted request and reading its response whole, bounded in size and time.

use std::time::Duration;

use jitos_worker::{limits::FETCH_BODY_BYTES_MAX, Header, Method};

/// A request the checks admitted, with secrets filled in.
pub(super) struct Outgoing {
    pub(super) method: Method,
    pub(super) url: reqwest::Url,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

/// What came back.
pub(super) struct Incoming {
    pub(super) status: u16,
    pub(super) headers: Vec<Header>,
    pub(super) body: Vec<u8>,
}

/// Sends `outgoing` and reads the whole response within `within`: a response whose body
/// passes [`FETCH_BODY_BYTES_MAX`] is not read on, and one that does not end in time is
/// dropped; either is a failure that says which.
pub(super) async fn send(
    client: &reqwest::Client,
    outgoing: Outgoing,
    within: Duration,
) -> Result<Incoming, String> {
    let method = reqwest::Method::from_bytes(outgoing.method.as_str().as_bytes())
        .map_err(|e| format!("cannot send method {}: {e}", outgoing.method))?;
    let mut request = client.request(method, outgoing.url).body(outgoing.body);
    for (name, value) in &outgoing.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let whole = async {
        let mut response = request.send().await.map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| {
                Header::new(
                    name.as_str(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e))? {
            if body.len() + chunk.len() > FETCH_BODY_BYTES_MAX {
                return Err(format!(
                    "the response body passed {FETCH_BODY_BYTES_MAX} bytes; it was not read on"
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Incoming {
            status,
            headers,
            body,
        })
    };
    match tokio::time::timeout(within, whole).await {
        Ok(result) => result,
        Err(_) => Err(format!(
            "no whole response within {} ms (what was left of the job's deadline)",
            within.as_millis()
        )),
    }
}

/// A client error in words, with its causes.
fn describe(error: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
