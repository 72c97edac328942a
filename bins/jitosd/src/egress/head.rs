//! Reading a proxy request's head, bounded in bytes, header fields and time, and
//! deciding what it asks for: a tunnel (`CONNECT host:port`) or a plain HTTP request with
//! an absolute URI, rewritten in origin form for the destination.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

use super::allow::canonical_host;
use super::Destination;

/// Largest request head the proxy reads.
pub const HEAD_BYTES_MAX: usize = 16 * 1024;
/// Most header fields a request head may have.
pub const HEADERS_MAX: usize = 64;
/// Longest the proxy waits for a whole request head, however it trickles in.
pub const HEAD_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Fields of a forwarded request the proxy drops: they describe the hop to the proxy,
/// not the request (the destination gets its own `Host` and `Connection: close`).
const HOP_FIELDS: [&str; 8] = [
    "host",
    "connection",
    "proxy-connection",
    "proxy-authorization",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
];

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Ask {
    /// A tunnel to the destination.
    Connect,
    /// A plain HTTP request, sent to the destination as this head.
    Forward {
        /// The method.
        method: String,
        /// The head to send, in origin form.
        head: Vec<u8>,
    },
}

/// A request head, read.
#[derive(Debug)]
pub(super) struct Head {
    pub(super) destination: Destination,
    pub(super) ask: Ask,
    /// Bytes the client sent after its head (a request body, a TLS hello), to pass on.
    pub(super) rest: Vec<u8>,
}

impl Head {
    /// The method, as reported.
    pub(super) fn method(&self) -> &str {
        match &self.ask {
            Ask::Connect => "CONNECT",
            Ask::Forward { method, .. } => method,
        }
    }
}

/// Why a head was not served, with the status the client is answered.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Unserved {
    pub(super) status: u16,
    pub(super) reason: String,
    /// Where it asked to go, when that much was read.
    pub(super) destination: Option<Destination>,
    pub(super) method: Option<String>,
}

fn unserved(status: u16, reason: impl Into<String>) -> Unserved {
    Unserved {
        status,
        reason: reason.into(),
        destination: None,
        method: None,
    }
}

/// Reads one request head from `client` within `timeout` ([`HEAD_READ_TIMEOUT`] unless
/// a test says otherwise).
pub(super) async fn read<R: AsyncRead + Unpin>(
    client: &mut R,
    timeout: Duration,
) -> Result<Head, Unserved> {
    match tokio::time::timeout(timeout, read_untimed(client)).await {
        Ok(read) => read,
        Err(_) => Err(unserved(
            408,
            format!(
                "the request head did not arrive within {} ms",
                timeout.as_millis()
            ),
        )),
    }
}

async fn read_untimed<R: AsyncRead + Unpin>(client: &mut R) -> Result<Head, Unserved> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        let n = client
            .read(&mut chunk)
            .await
            .map_err(|e| unserved(400, format!("reading the request head failed: {e}")))?;
        if n == 0 {
            return Err(unserved(
                400,
                "the client closed before its request head ended",
            ));
        }
        buffer.extend_from_slice(&chunk[..n]);
        // Only what fits is parsed, so a head that ends past the limit is refused even
        // when the read that completes it brings it all.
        let parsed = parse(&buffer[..buffer.len().min(HEAD_BYTES_MAX)])?;
        if let Some((destination, ask, length)) = parsed {
            return Ok(Head {
                destination,
                ask,
                rest: buffer.split_off(length),
            });
        }
        if buffer.len() >= HEAD_BYTES_MAX {
            return Err(unserved(
                431,
                format!("the request head is larger than {HEAD_BYTES_MAX} bytes"),
            ));
        }
    }
}

/// Parses a head from the start of `bytes`: `None` while it is incomplete, else what it
/// asks for and its length.
pub(super) fn parse(bytes: &[u8]) -> Result<Option<(Destination, Ask, usize)>, Unserved> {
    let mut fields = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut request = httparse::Request::new(&mut fields);
    let length = match request.parse(bytes) {
        Ok(httparse::Status::Partial) => return Ok(None),
        Ok(httparse::Status::Complete(length)) => length,
        Err(httparse::Error::TooManyHeaders) => {
            return Err(unserved(
                431,
                format!("the request head has more than {HEADERS_MAX} header fields"),
            ))
        }
        Err(e) => return Err(unserved(400, format!("the request head is not HTTP: {e}"))),
    };
    let method = request.method.unwrap_or_default().to_owned();
    let target = request.path.unwrap_or_default();
    let minor = request.version.unwrap_or(1);
    let named = |destination: Option<Destination>, status, reason: String| Unserved {
        status,
        reason,
        destination,
        method: Some(method.clone()),
    };
    if method == "CONNECT" {
        let destination = authority(target).map_err(|reason| named(None, 400, reason))?;
        return Ok(Some((destination, Ask::Connect, length)));
    }
    let (destination, origin_form) =
        absolute_http(target).map_err(|reason| named(None, 400, reason))?;
    let mut head = format!("{method} {origin_form} HTTP/1.{minor}\r\n").into_bytes();
    head.extend_from_slice(format!("Host: {}\r\n", host_field(&destination)).as_bytes());
    for field in request.headers.iter() {
        if HOP_FIELDS
            .iter()
            .any(|hop| field.name.eq_ignore_ascii_case(hop))
        {
            continue;
        }
        head.extend_from_slice(field.name.as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(field.value);
        head.extend_from_slice(b"\r\n");
    }
    // One request per connection: the client's next one may be for another host, which
    // only a new connection through the proxy reaches.
    head.extend_from_slice(b"Connection: close\r\n\r\n");
    Ok(Some((destination, Ask::Forward { method, head }, length)))
}

/// The destination of `CONNECT host:port` (the port is required).
fn authority(target: &str) -> Result<Destination, String> {
    let bad = || format!("CONNECT needs host:port, not {target:?}");
    let (host, port) = if let Some(after) = target.strip_prefix('[') {
        let (inside, port) = after.split_once("]:").ok_or_else(bad)?;
        (format!("[{inside}]"), port)
    } else {
        let (host, port) = target.rsplit_once(':').ok_or_else(bad)?;
        (host.to_owned(), port)
    };
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(bad)?;
    if host.is_empty() || host.contains(['/', '?', '#', '@', '\\', '%']) {
        return Err(bad());
    }
    let url = reqwest::Url::parse(&format!("http://{host}:{port}/")).map_err(|_| bad())?;
    let host = url.host_str().ok_or_else(bad)?;
    Ok(Destination {
        host: canonical_host(host),
        port,
    })
}

/// The destination and origin-form target of an absolute `http://` URI.
fn absolute_http(target: &str) -> Result<(Destination, String), String> {
    let scheme_end = target.find("://").unwrap_or(0);
    let scheme = target[..scheme_end].to_ascii_lowercase();
    match scheme.as_str() {
        "http" => {}
        "https" => {
            return Err(format!(
                "{target:?}: an https URL goes through the proxy as a tunnel (CONNECT), \
                 so TLS stays between the client and the host"
            ))
        }
        _ => {
            return Err(format!(
                "{target:?} is not an absolute http:// URL: this is a forward proxy, \
                 reached as HTTP_PROXY/HTTPS_PROXY"
            ))
        }
    }
    let url = reqwest::Url::parse(target).map_err(|e| format!("{target:?} is not a URL: {e}"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "{target:?} holds credentials, which the proxy does not pass"
        ));
    }
    let host = url
        .host_str()
        .ok_or_else(|| format!("{target:?} names no host"))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| format!("{target:?} names no port"))?;
    let mut origin_form = url.path().to_owned();
    if let Some(query) = url.query() {
        origin_form.push('?');
        origin_form.push_str(query);
    }
    Ok((
        Destination {
            host: canonical_host(host),
            port,
        },
        origin_form,
    ))
}

/// The `Host` field for `destination`: the port left out when it is HTTP's.
fn host_field(destination: &Destination) -> String {
    if destination.port == 80 {
        destination.host.clone()
    } else {
        destination.to_string()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn dest(host: &str, port: u16) -> Destination {
        Destination {
            host: host.to_owned(),
            port,
        }
    }

    // Goal: a CONNECT names its destination in one spelling, and a target without a port
    // or with junk in it is refused; method: parse several heads.
    #[test]
    fn connect_targets_are_read_in_one_spelling() {
        let (d, ask, _) = parse(b"CONNECT Example.COM:443 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!((d, ask), (dest("example.com", 443), Ask::Connect));
        let (d, _, _) = parse(b"CONNECT [0::1]:8443 HTTP/1.1\r\n\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(d, dest("[::1]", 8443));
        for bad in [
            "CONNECT example.com HTTP/1.1\r\n\r\n",
            "CONNECT example.com:0 HTTP/1.1\r\n\r\n",
            "CONNECT user@example.com:443 HTTP/1.1\r\n\r\n",
            "CONNECT :443 HTTP/1.1\r\n\r\n",
        ] {
            let refused = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(refused.status, 400, "{bad}");
        }
    }

    // Goal: a plain request is rewritten for its destination: origin form, its own Host,
    // no hop fields, one request per connection; method: parse one and read the head.
    #[test]
    fn a_plain_request_is_rewritten_in_origin_form() {
        let head = b"GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: evil\r\n\
                     Proxy-Authorization: x\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\nbody";
        let (d, ask, length) = parse(head).unwrap().unwrap();
        assert_eq!(d, dest("example.com", 8080));
        assert_eq!(&head[length..], b"body");
        let Ask::Forward { method, head } = ask else {
            panic!("not forwarded")
        };
        assert_eq!(method, "GET");
        assert_eq!(
            String::from_utf8(head).unwrap(),
            "GET /a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n"
        );
    }

    // Goal: what is not a proxy request is refused with a reason; method: an origin-form
    // request, an https URL, credentials in a URL, garbage, too many fields.
    #[test]
    fn what_is_not_a_proxy_request_is_refused() {
        for (bad, status) in [
            ("GET /index.html HTTP/1.1\r\n\r\n".to_owned(), 400),
            ("GET https://example.com/ HTTP/1.1\r\n\r\n".to_owned(), 400),
            (
                "GET http://u:p@example.com/ HTTP/1.1\r\n\r\n".to_owned(),
                400,
            ),
            ("\x16\x03\x01\x02\x00garbage\r\n\r\n".to_owned(), 400),
            (
                format!(
                    "GET http://a/ HTTP/1.1\r\n{}\r\n",
                    "X: y\r\n".repeat(HEADERS_MAX + 1)
                ),
                431,
            ),
        ] {
            let refused = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(refused.status, status, "{bad:?}: {}", refused.reason);
        }
        assert!(parse(b"GET http://a/ HTTP/1.1\r\nX: y\r\n")
            .unwrap()
            .is_none());
    }
}
