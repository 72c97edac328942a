//! `ChatServer`: a real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions
//! protocol from a script — one [`Reply`] per request, in order — and keeps every request
//! (method, path, headers, body) for the test to assert on.
//!
//! It answers with a completion (text or tool calls), a streamed completion (SSE events
//! written as separate HTTP chunks with pauses between them), a status such as 429 with
//! `Retry-After` or a 500, malformed JSON, invalid UTF-8, a body that never ends, an
//! oversized body, or nothing at all (a hang, held until the server is dropped). Requests
//! are parsed by `tiny_http`; responses are written raw, so chunk boundaries, pauses and
//! lengths are exactly what the script says.

use std::{
    io::{Read, Write},
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

/// Prompt tokens every scripted completion reports in its `usage`.
pub const USAGE_PROMPT_TOKENS: u64 = 11;
/// Completion tokens every scripted completion reports in its `usage`.
pub const USAGE_COMPLETION_TOKENS: u64 = 7;
/// Most bytes of a request body kept.
const REQUEST_BODY_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// How long an endless body goes on at most, so a test that forgets it still ends.
const ENDLESS_FOR_MAX: Duration = Duration::from_secs(300);
/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(20);

/// What the server answers one request with.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A status, headers and a body, sent whole with a `Content-Length`.
    Whole {
        /// The status code.
        status: u16,
        /// Extra headers (`Content-Type` included when wanted).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
    /// `200 text/event-stream`, chunked: each event is `data: {event}\n\n` in a chunk of
    /// its own, with `pause` before each.
    Stream {
        /// The events' data (JSON text or `[DONE]`).
        events: Vec<String>,
        /// The pause before each chunk.
        pause: Duration,
    },
    /// Reads the request and never sends a byte of an answer; the client must give up.
    Hang,
    /// `200 application/json`, chunked, `chunk` after `chunk` with `pause` between, until
    /// the client goes away or the server is dropped.
    Endless {
        /// What each chunk holds.
        chunk: Vec<u8>,
        /// The pause between chunks.
        pause: Duration,
    },
    /// `200 application/json` with a `Content-Length` of `bytes`, and that many bytes.
    Oversized {
        /// The body's length.
        bytes: usize,
    },
}

impl Reply {
    /// The model's fix of the demo's calculator: patch `calc.sh` so `add` adds, then
    /// finish.
    pub fn fix_demo_calc() -> Reply {
        Reply::tool_calls(&[
            (
                "apply_patch",
                json!({ "path": "calc.sh", "old": "$1 - $2", "new": "$1 + $2" }),
            ),
            ("finish", json!({ "summary": "add adds" })),
        ])
    }

    /// A completion whose message is `text`, with usage.
    pub fn content(text: &str) -> Reply {
        Reply::json(
            200,
            completion(json!({ "role": "assistant", "content": text }), "stop"),
        )
    }

    /// A completion asking for tool calls `(name, arguments)`, ids `call_0`, `call_1`, …
    pub fn tool_calls(calls: &[(&str, Value)]) -> Reply {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, arguments))| {
                json!({
                    "id": format!("call_{i}"),
                    "type": "function",
                    "function": { "name": name, "arguments": arguments.to_string() },
                })
            })
            .collect();
        Reply::json(
            200,
            completion(
                json!({ "role": "assistant", "content": null, "tool_calls": calls }),
                "tool_calls",
            ),
        )
    }

    /// A streamed completion: `text` in two pieces (if any), then each tool call with
    /// its arguments in three pieces, the finish reason, the usage and `[DONE]`.
    pub fn streamed(text: &str, calls: &[(&str, Value)]) -> Reply {
        let chunk = |delta: Value, finish: Value| {
            json!({
                "id": "chatcmpl-script",
                "object": "chat.completion.chunk",
                "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
            })
            .to_string()
        };
        let mut events = vec![chunk(json!({ "role": "assistant" }), Value::Null)];
        if !text.is_empty() {
            let half = text
                .char_indices()
                .nth(text.chars().count() / 2)
                .map_or(0, |(i, _)| i);
            for piece in [&text[..half], &text[half..]] {
                events.push(chunk(json!({ "content": piece }), Value::Null));
            }
        }
        for (index, (name, arguments)) in calls.iter().enumerate() {
            events.push(chunk(
                json!({ "tool_calls": [{ "index": index, "id": format!("call_{index}"),
                    "type": "function", "function": { "name": name, "arguments": "" } }] }),
                Value::Null,
            ));
            let arguments = arguments.to_string();
            let cuts = [
                0,
                arguments.len() / 3,
                2 * arguments.len() / 3,
                arguments.len(),
            ];
            for pair in cuts.windows(2) {
                // Arguments may hold any character: each cut moves back to a character
                // boundary so every piece is text.
                let (mut from, mut to) = (pair[0], pair[1]);
                while !arguments.is_char_boundary(from) {
                    from -= 1;
                }
                while !arguments.is_char_boundary(to) {
                    to -= 1;
                }
                if from < to {
                    events.push(chunk(
                        json!({ "tool_calls": [{ "index": index,
                            "function": { "arguments": &arguments[from..to] } }] }),
                        Value::Null,
                    ));
                }
            }
        }
        let finish = if calls.is_empty() {
            "stop"
        } else {
            "tool_calls"
        };
        events.push(chunk(json!({}), json!(finish)));
        events.push(
            json!({ "id": "chatcmpl-script", "object": "chat.completion.chunk", "choices": [],
                    "usage": usage() })
            .to_string(),
        );
        events.push("[DONE]".to_owned());
        Reply::Stream {
            events,
            pause: Duration::from_millis(5),
        }
    }

    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn rate_limited(seconds: u64) -> Reply {
        Reply::Whole {
            status: 429,
            headers: vec![
                ("Retry-After".to_owned(), seconds.to_string()),
                ("Content-Type".to_owned(), "application/json".to_owned()),
            ],
            body: br#"{"error":{"message":"rate limited","type":"rate_limit"}}"#.to_vec(),
        }
    }

    /// `500 Internal Server Error`.
    pub fn server_error() -> Reply {
        Reply::json(500, json!({ "error": { "message": "scripted failure" } }))
    }

    /// `200` whose body is not valid JSON.
    pub fn malformed_json() -> Reply {
        Reply::raw(
            200,
            "application/json",
            br#"{"choices": [{"message": {"content": "#.to_vec(),
        )
    }

    /// `200` whose body is not UTF-8.
    pub fn invalid_utf8() -> Reply {
        let mut body = br#"{"choices":[{"message":{"role":"assistant","content":""#.to_vec();
        body.extend([0xff, 0xfe, 0xc3, 0x28]);
        body.extend(br#""},"finish_reason":"stop"}]}"#);
        Reply::raw(200, "application/json", body)
    }

    /// A body that never ends: 1 KiB every 10 ms.
    pub fn endless() -> Reply {
        Reply::Endless {
            chunk: vec![b' '; 1024],
            pause: Duration::from_millis(10),
        }
    }

    /// A JSON completion of `status` and `body`.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::raw(status, "application/json", body.to_string().into_bytes())
    }

    /// Any body under any status and content type.
    pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Reply {
        Reply::Whole {
            status,
            headers: vec![("Content-Type".to_owned(), content_type.to_owned())],
            body,
        }
    }
}

fn usage() -> Value {
    json!({
        "prompt_tokens": USAGE_PROMPT_TOKENS,
        "completion_tokens": USAGE_COMPLETION_TOKENS,
        "total_tokens": USAGE_PROMPT_TOKENS + USAGE_COMPLETION_TOKENS,
    })
}

fn completion(message: Value, finish_reason: &str) -> Value {
    json!({
        "id": "chatcmpl-script",
        "object": "chat.completion",
        "model": "scripted",
        "choices": [{ "index": 0, "message": message, "finish_reason": finish_reason }],
        "usage": usage(),
    })
}

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// The headers, in the order received.
    pub headers: Vec<(String, String)>,
    /// The body (at most 16 MiB kept).
    pub body: Vec<u8>,
}

impl RecordedRequest {
    /// The first value of header `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<RecordedRequest>>,
    /// The answer streams of requests answered by `Hang`, held unwritten: a dropped
    /// `tiny_http::Request` would answer 500 on its own.
    held: Mutex<Vec<Box<dyn Write + Send>>>,
}

/// The running server; dropping it stops it and ends its streams and endless bodies.
pub struct ChatServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl ChatServer {
    /// Starts a server on 127.0.0.1 (a free port) answering with `script`, one reply per
    /// request in order; a request past the script gets a 500 saying so.
    pub fn start(script: Vec<Reply>) -> ChatServer {
        let server = tiny_http::Server::http("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("cannot start the chat server on 127.0.0.1: {e}"));
        let addr = server
            .server_addr()
            .to_ip()
            .unwrap_or_else(|| panic!("the chat server has no IP address"));
        let shared = Arc::new(Shared::default());
        let stop = Arc::new(AtomicBool::new(false));
        let accept = {
            let (shared, stop) = (Arc::clone(&shared), Arc::clone(&stop));
            thread::spawn(move || serve(server, script, &shared, &stop))
        };
        ChatServer {
            addr,
            shared,
            stop,
            accept: Some(accept),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint to give a client: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Waits until at least `count` requests arrived; false if `timeout` passed first.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> bool {
        let until = Instant::now() + timeout;
        while self.request_count() < count {
            if Instant::now() >= until {
                return false;
            }
            thread::sleep(POLL);
        }
        true
    }
}

impl Drop for ChatServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
        lock(&self.shared.held).clear();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The accept loop: records each request and answers it on a thread of its own, so a
/// slow or endless answer never holds up the next request.
fn serve(
    server: tiny_http::Server,
    script: Vec<Reply>,
    shared: &Arc<Shared>,
    stop: &Arc<AtomicBool>,
) {
    let mut script = script.into_iter();
    while !stop.load(Ordering::SeqCst) {
        let mut request = match server.recv_timeout(POLL) {
            Ok(Some(request)) => request,
            Ok(None) => continue,
            Err(_) => break,
        };
        let mut body = Vec::new();
        let _ = request
            .as_reader()
            .take(REQUEST_BODY_BYTES_MAX)
            .read_to_end(&mut body);
        let number = {
            let mut requests = lock(&shared.requests);
            requests.push(RecordedRequest {
                method: request.method().as_str().to_owned(),
                path: request.url().to_owned(),
                headers: request
                    .headers()
                    .iter()
                    .map(|h| {
                        (
                            h.field.as_str().as_str().to_owned(),
                            h.value.as_str().to_owned(),
                        )
                    })
                    .collect(),
                body,
            });
            requests.len()
        };
        let reply = script.next().unwrap_or_else(|| {
            Reply::json(
                500,
                json!({ "error": { "message": format!("the script has no reply for request {number}") } }),
            )
        });
        if matches!(reply, Reply::Hang) {
            lock(&shared.held).push(request.into_writer());
            continue;
        }
        let stop = Arc::clone(stop);
        // Not joined: a client that stops reading without closing would block the write
        // and with it the server's drop. Each answer ends when its client goes away, at
        // the stop flag, or (an endless body) after `ENDLESS_FOR_MAX`.
        thread::spawn(move || {
            let mut writer = request.into_writer();
            // The client may go away at any point; that ends the answer, nothing more.
            let _ = answer(&mut writer, reply, &stop);
        });
    }
}

fn reason_of(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Scripted",
    }
}

fn answer(out: &mut dyn Write, reply: Reply, stop: &AtomicBool) -> std::io::Result<()> {
    let head = |status: u16, headers: &[(&str, &str)]| {
        let mut text = format!(
            "HTTP/1.1 {status} {}\r\nConnection: close\r\n",
            reason_of(status)
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.into_bytes()
    };
    match reply {
        Reply::Whole {
            status,
            headers,
            body,
        } => {
            let length = body.len().to_string();
            let mut all: Vec<(&str, &str)> = headers
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_str()))
                .collect();
            all.push(("Content-Length", &length));
            out.write_all(&head(status, &all))?;
            out.write_all(&body)?;
            out.flush()
        }
        Reply::Stream { events, pause } => {
            out.write_all(&head(
                200,
                &[
                    ("Content-Type", "text/event-stream"),
                    ("Cache-Control", "no-cache"),
                    ("Transfer-Encoding", "chunked"),
                ],
            ))?;
            out.flush()?;
            for event in events {
                if stop.load(Ordering::SeqCst) {
                    return Ok(());
                }
                thread::sleep(pause);
                write_chunk(out, format!("data: {event}\n\n").as_bytes())?;
            }
            out.write_all(b"0\r\n\r\n")?;
            out.flush()
        }
        Reply::Endless { chunk, pause } => {
            out.write_all(&head(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("Transfer-Encoding", "chunked"),
                ],
            ))?;
            write_chunk(out, b"{\"choices\": [")?;
            let started = Instant::now();
            while !stop.load(Ordering::SeqCst) && started.elapsed() < ENDLESS_FOR_MAX {
                write_chunk(out, &chunk)?;
                thread::sleep(pause);
            }
            Ok(())
        }
        Reply::Oversized { bytes } => {
            let length = bytes.to_string();
            out.write_all(&head(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Length", &length),
                ],
            ))?;
            let block = vec![b' '; 64 * 1024];
            let mut left = bytes;
            while left > 0 && !stop.load(Ordering::SeqCst) {
                let n = left.min(block.len());
                out.write_all(&block[..n])?;
                left -= n;
            }
            out.flush()
        }
        // Held by the accept loop, never answered.
        Reply::Hang => Ok(()),
    }
}

fn write_chunk(out: &mut dyn Write, bytes: &[u8]) -> std::io::Result<()> {
    out.write_all(format!("{:x}\r\n", bytes.len()).as_bytes())?;
    out.write_all(bytes)?;
    out.write_all(b"\r\n")?;
    out.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::net::TcpStream;

    /// A plain HTTP/1.1 POST over a raw socket, so the server is checked by nothing that
    /// shares its parser.
    fn post(server: &ChatServer, body: &str) -> TcpStream {
        let mut stream = TcpStream::connect(server.addr()).unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n\
             Authorization: Bearer s3cret\r\nIdempotency-Key: llm-1-1-1-0\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// The status, the head's text and the body (chunks decoded) of a whole response, and
    /// how many chunks it came in.
    fn read_response(mut stream: TcpStream) -> (u16, String, Vec<u8>, usize) {
        let mut all = Vec::new();
        stream.read_to_end(&mut all).unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8(all[..split].to_vec()).unwrap();
        let mut rest = &all[split + 4..];
        let status = head[9..12].parse().unwrap();
        if !head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            return (status, head, rest.to_vec(), 0);
        }
        let (mut body, mut chunks) = (Vec::new(), 0);
        loop {
            let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
            rest = &rest[line_end + 2..];
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
            chunks += 1;
        }
        (status, head, body, chunks)
    }

    // Goal: a completion is answered and the request is kept whole: method, path,
    // headers (the secret's value, the idempotency key) and body.
    #[test]
    fn a_completion_is_answered_and_the_request_kept() {
        let server = ChatServer::start(vec![Reply::content("hello")]);
        let (status, head, body, _) = read_response(post(&server, r#"{"model":"m"}"#));
        assert_eq!(status, 200);
        assert!(head.contains("Content-Type: application/json"), "{head}");
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(reply["choices"][0]["message"]["content"], json!("hello"));
        assert_eq!(reply["usage"]["prompt_tokens"], json!(USAGE_PROMPT_TOKENS));
        assert_eq!(server.request_count(), 1);
        let request = &server.requests()[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/v1/chat/completions");
        assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
        assert_eq!(request.header("Idempotency-Key"), Some("llm-1-1-1-0"));
        assert_eq!(request.json()["model"], json!("m"));
    }

    // Goal: a streamed completion arrives as one HTTP chunk per SSE event, ends with
    // `[DONE]`, and its tool-call argument pieces join to the arguments scripted.
    #[test]
    fn a_stream_comes_in_separate_chunks() {
        let arguments = json!({ "path": "calc.sh", "old": "a - b", "new": "b - a" });
        let server = ChatServer::start(vec![Reply::streamed(
            "fixing",
            &[("apply_patch", arguments.clone())],
        )]);
        let (status, head, body, chunks) = read_response(post(&server, "{}"));
        assert_eq!(status, 200);
        assert!(head.contains("text/event-stream"), "{head}");
        let text = String::from_utf8(body).unwrap();
        let events: Vec<&str> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .collect();
        assert_eq!(chunks, events.len(), "one chunk per event");
        assert_eq!(events.last(), Some(&"[DONE]"));
        let mut joined = String::new();
        for event in &events[..events.len() - 1] {
            let chunk: Value = serde_json::from_str(event).unwrap();
            if let Some(piece) =
                chunk["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"].as_str()
            {
                joined.push_str(piece);
            }
        }
        assert_eq!(serde_json::from_str::<Value>(&joined).unwrap(), arguments);
        assert!(text.contains("\"usage\""), "the stream reports usage");
    }

    // Goal: the script is followed in order — 429 with Retry-After, 500, malformed JSON,
    // invalid UTF-8, tool calls — and a request past it gets a 500 saying so.
    #[test]
    fn the_script_is_followed_in_order() {
        let server = ChatServer::start(vec![
            Reply::rate_limited(3),
            Reply::server_error(),
            Reply::malformed_json(),
            Reply::invalid_utf8(),
            Reply::tool_calls(&[("finish", json!({ "summary": "ok" }))]),
        ]);
        let (status, head, _, _) = read_response(post(&server, "{}"));
        assert_eq!(status, 429);
        assert!(head.contains("Retry-After: 3"), "{head}");
        assert_eq!(read_response(post(&server, "{}")).0, 500);
        let (status, _, body, _) = read_response(post(&server, "{}"));
        assert_eq!(status, 200);
        assert!(serde_json::from_slice::<Value>(&body).is_err());
        let (_, _, body, _) = read_response(post(&server, "{}"));
        assert!(String::from_utf8(body).is_err());
        let (_, _, body, _) = read_response(post(&server, "{}"));
        let reply: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            reply["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
            json!("finish")
        );
        let (status, _, body, _) = read_response(post(&server, "{}"));
        assert_eq!(status, 500);
        assert!(String::from_utf8_lossy(&body).contains("no reply for request 6"));
        assert_eq!(server.request_count(), 6);
    }

    // Goal: a hang accepts and records the request but sends nothing, not even when the
    // server is dropped, and dropping it returns promptly.
    #[test]
    fn a_hang_answers_nothing_until_the_server_is_dropped() {
        let server = ChatServer::start(vec![Reply::Hang]);
        let mut stream = post(&server, "{}");
        assert!(server.wait_for_requests(1, Duration::from_secs(10)));
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut byte = [0u8; 1];
        let err = stream.read(&mut byte).unwrap_err();
        assert!(
            matches!(
                err.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{err}"
        );
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(5));
        stream
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        assert!(rest.is_empty(), "a hang sent {} bytes", rest.len());
    }

    // Goal: an endless body keeps coming past any sensible size, and dropping the server
    // ends it promptly. An oversized body has exactly the length it announces.
    #[test]
    fn endless_and_oversized_bodies() {
        let server = ChatServer::start(vec![
            Reply::Endless {
                chunk: vec![b' '; 64 * 1024],
                pause: Duration::from_millis(1),
            },
            Reply::Oversized {
                bytes: 5 * 1024 * 1024,
            },
        ]);
        let mut stream = post(&server, "{}");
        let mut seen = 0usize;
        let mut buf = vec![0u8; 64 * 1024];
        while seen < 2 * 1024 * 1024 {
            let n = stream.read(&mut buf).unwrap();
            assert!(n > 0, "the endless body ended after {seen} bytes");
            seen += n;
        }
        drop(stream);
        let (status, head, body, _) = read_response(post(&server, "{}"));
        assert_eq!(status, 200);
        assert!(head.contains("Content-Length: 5242880"), "{head}");
        assert_eq!(body.len(), 5 * 1024 * 1024);
        let started = Instant::now();
        drop(server);
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
