//! Bad input loses nothing: malformed rewrites through the CLI, hostile bytes on the raw
//! socket, damaged bundles given to `import`, and a second daemon on a held data directory
//! are each refused with a clear error while the store and the serving daemon carry on.

use std::{
    io::{ErrorKind, Write},
    net::Shutdown,
    os::unix::net::UnixStream,
    path::Path,
    time::Duration,
};

use jitos_proto::{
    decode_message, encode_message, read_frame, write_frame, ErrorCode, FrameError, Hello,
    Response, FRAME_BYTES_MAX, PROTOCOL_VERSION,
};
use jitos_system_tests::{
    add_node, apply, assert_failure, assert_success, rewrite, status, Daemon, Sandbox,
};

/// Longest the daemon may take to answer or close a connection that sent bad input.
const REFUSAL_WAIT: Duration = Duration::from_secs(10);

/// Connections that never say hello, held open while other clients are served.
const SILENT_CONNECTIONS: usize = 8;

/// A daemon holding node `a` (seq 1) and node `b` (seq 2), and its head.
fn seeded(sandbox: &Sandbox) -> (Daemon, u64) {
    let daemon = sandbox.start();
    let mut client = daemon.client();
    apply(&mut client, add_node("a", "Bad"));
    let (head, _) = apply(&mut client, add_node("b", "Bad"));
    (daemon, head)
}

/// Asserts the daemon is alive, answers a fresh client, and still has `head` as its head.
#[track_caller]
fn assert_still_serving(daemon: &mut Daemon, head: u64, after: &str) {
    assert!(
        daemon.is_running(),
        "jitosd died after {after}\nstderr:\n{}",
        daemon.stderr()
    );
    let info = status(&mut daemon.client());
    assert_eq!(info.head_seq, head, "the head moved after {after}");
}

// Goal: each kind of bad rewrite is refused with a message naming the problem and records
// nothing. Method: feed each to `jitos rewrite apply FILE` against a seeded daemon, check
// the exit, the message and the head.
#[test]
fn bad_rewrites_through_the_cli_are_refused() {
    let sandbox = Sandbox::new();
    let (mut daemon, head) = seeded(&sandbox);
    let cases: [(&str, &str, &str); 6] = [
        (
            "malformed JSON",
            r#"{"ops": [{"add_node": "#,
            "invalid rewrite JSON",
        ),
        (
            "an unknown op",
            r#"{"ops": [{"frobnicate": {"id": "x"}}]}"#,
            "frobnicate",
        ),
        (
            "a wrong value type",
            r#"{"ops": [{"add_node": {"id": "x", "kind": 7}}]}"#,
            "invalid type: integer `7`",
        ),
        (
            "a float",
            r#"{"ops": [{"set_attr": {"node": "a", "key": "w", "value": 1.5}}]}"#,
            "floats are not allowed",
        ),
        (
            "an edge to a missing node",
            r#"{"ops": [{"add_edge": {"from": "a", "to": "ghost", "label": "l"}}]}"#,
            "ghost does not exist",
        ),
        (
            "a failed precondition",
            r#"{"ops": [{"set_attr": {"node": "a", "key": "k", "value": "v"}}],
                "expect": [{"node_absent": {"node": "a"}}]}"#,
            "does not hold",
        ),
    ];
    for (what, json, expected) in cases {
        let file = sandbox.path().join("bad.json");
        std::fs::write(&file, json)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        let path = file.to_string_lossy().into_owned();
        let text = assert_failure(what, &sandbox.jitos(&["rewrite", "apply", &path]));
        assert!(
            text.contains(expected),
            "{what}: the message does not say {expected:?}:\n{text}"
        );
        assert_still_serving(&mut daemon, head, what);
    }
}

/// A raw connection to the daemon, with a bounded wait on reads.
fn raw(daemon: &Daemon) -> UnixStream {
    let stream = UnixStream::connect(daemon.socket())
        .unwrap_or_else(|e| panic!("cannot connect to {}: {e}", daemon.socket().display()));
    stream
        .set_read_timeout(Some(REFUSAL_WAIT))
        .unwrap_or_else(|e| panic!("cannot set a read timeout: {e}"));
    stream
}

/// A raw connection that has completed the handshake.
fn raw_handshaken(daemon: &Daemon) -> UnixStream {
    let mut stream = raw(daemon);
    send(&mut stream, &encode(&Hello::new("systest-raw")));
    match read_frame(&mut stream).map(|payload| decode_message::<Response>(&payload)) {
        Ok(Ok(Response::Welcome(_))) => stream,
        other => panic!("the handshake failed: {other:?}"),
    }
}

fn encode<T: serde::Serialize>(message: &T) -> Vec<u8> {
    encode_message(message).unwrap_or_else(|e| panic!("cannot encode a test message: {e}"))
}

fn send(stream: &mut UnixStream, payload: &[u8]) {
    write_frame(stream, payload).unwrap_or_else(|e| panic!("cannot send a frame: {e}"));
}

fn send_raw(stream: &mut UnixStream, bytes: &[u8]) {
    stream
        .write_all(bytes)
        .unwrap_or_else(|e| panic!("cannot send raw bytes: {e}"));
}

/// Whether a read error means the daemon closed the connection.
fn is_closed(error: &FrameError) -> bool {
    match error {
        FrameError::Closed | FrameError::Truncated => true,
        FrameError::Io(e) => matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe),
        _ => false,
    }
}

/// Asserts the daemon answers bad input with a `BadRequest` error frame and then closes,
/// or simply closes; never with anything else, and never by leaving the connection hanging.
/// Returns the error message, if one was sent.
#[track_caller]
fn assert_refused(mut stream: UnixStream, what: &str) -> Option<String> {
    let message = match read_frame(&mut stream) {
        Ok(payload) => match decode_message::<Response>(&payload) {
            Ok(Response::Error(error)) => {
                assert_eq!(error.code, ErrorCode::BadRequest, "{what}: {error:?}");
                Some(error.message)
            }
            other => panic!("{what}: the daemon answered {other:?} instead of an error"),
        },
        Err(e) if is_closed(&e) => return None,
        Err(e) => panic!("{what}: neither an error nor a close within {REFUSAL_WAIT:?}: {e}"),
    };
    match read_frame(&mut stream) {
        Err(e) if is_closed(&e) => message,
        other => panic!("{what}: the connection stayed open after the error: {other:?}"),
    }
}

// Goal: hostile bytes on the socket end only their own connection. Method: open raw
// connections that send an oversized length prefix, garbage, a wrong-magic hello, an
// undecodable request after a good hello, and frames cut short by a hang-up, while other
// connections sit silent; each must be refused or closed, and a fresh client must still
// see the same head.
#[test]
fn hostile_socket_input_is_refused_per_connection() {
    let sandbox = Sandbox::new();
    let (mut daemon, head) = seeded(&sandbox);
    // Held open, silent, for the whole test: clients that never say hello must not stop
    // the daemon from serving anyone else.
    let _silent: Vec<UnixStream> = (0..SILENT_CONNECTIONS).map(|_| raw(&daemon)).collect();
    assert_still_serving(&mut daemon, head, "silent connections");

    let mut stream = raw(&daemon);
    send_raw(&mut stream, &(FRAME_BYTES_MAX + 1).to_le_bytes());
    // The daemon read the whole prefix, so nothing is left unread and its error arrives.
    let message = assert_refused(stream, "an oversized length prefix")
        .unwrap_or_else(|| panic!("an oversized length prefix got no explanation"));
    assert!(message.contains("exceeds the maximum"), "{message}");
    assert_still_serving(&mut daemon, head, "an oversized length prefix");

    let mut stream = raw(&daemon);
    send(&mut stream, &[0xff; 32]);
    assert_refused(stream, "a garbage hello");
    assert_still_serving(&mut daemon, head, "a garbage hello");

    let mut stream = raw(&daemon);
    send_raw(&mut stream, b"GET / HTTP/1.1\r\nHost: jitos\r\n\r\n");
    assert_refused(stream, "an HTTP request");
    assert_still_serving(&mut daemon, head, "an HTTP request");

    let mut stream = raw(&daemon);
    let wrong_magic = Hello {
        magic: *b"NOTJITOS",
        protocol_version: PROTOCOL_VERSION,
        client: "systest-raw".to_owned(),
    };
    send(&mut stream, &encode(&wrong_magic));
    let message = assert_refused(stream, "a wrong-magic hello");
    let message = message.unwrap_or_else(|| panic!("a wrong-magic hello got no explanation"));
    assert!(
        message.contains("magic"),
        "the refusal does not mention the magic: {message}"
    );
    assert_still_serving(&mut daemon, head, "a wrong-magic hello");

    let mut stream = raw_handshaken(&daemon);
    send(&mut stream, &[0xfe, 0xff, 0x00, 0x13, 0x37]);
    let message = assert_refused(stream, "an undecodable request");
    let message = message.unwrap_or_else(|| panic!("an undecodable request got no explanation"));
    assert!(message.contains("malformed"), "{message}");
    assert_still_serving(&mut daemon, head, "an undecodable request");

    for (what, handshaken) in [("a hello cut short", false), ("a request cut short", true)] {
        let mut stream = if handshaken {
            raw_handshaken(&daemon)
        } else {
            raw(&daemon)
        };
        send_raw(&mut stream, &100u32.to_le_bytes());
        send_raw(&mut stream, &[0u8; 10]);
        stream
            .shutdown(Shutdown::Write)
            .unwrap_or_else(|e| panic!("cannot half-close: {e}"));
        assert_refused(stream, what);
        assert_still_serving(&mut daemon, head, what);
    }
}

/// Writes `bytes` to `name` in the sandbox and returns its path as a string.
fn write_file(sandbox: &Sandbox, name: &str, bytes: &[u8]) -> String {
    let path = sandbox.path().join(name);
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path.to_string_lossy().into_owned()
}

/// The entries of a data directory other than the lock file `import` takes.
fn leftovers(data_dir: &Path) -> Vec<String> {
    match std::fs::read_dir(data_dir) {
        Ok(entries) => entries
            .map(|entry| {
                entry
                    .unwrap_or_else(|e| panic!("cannot list {}: {e}", data_dir.display()))
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name != "jitosd.lock")
            .collect(),
        Err(e) if e.kind() == ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", data_dir.display()),
    }
}

// Goal: a damaged bundle is refused and leaves no store behind. Method: export a bundle,
// import a truncated and a byte-flipped copy into fresh data dirs (each must fail and leave
// the dir empty but for the lock), and the intact bundle into another (which must work).
#[test]
fn damaged_bundles_are_refused_by_import() {
    let source = Sandbox::new();
    let (daemon, _) = seeded(&source);
    let bundle = source.path().join("good.bundle");
    let bundle_arg = bundle.to_string_lossy().into_owned();
    assert_success("jitos export", &source.jitos(&["export", &bundle_arg]));
    let bytes = std::fs::read(&bundle).unwrap_or_else(|e| panic!("cannot read the bundle: {e}"));
    daemon.terminate();

    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x20;
    let damaged = [
        (
            "a truncated bundle",
            write_file(&source, "truncated.bundle", &bytes[..bytes.len() / 2]),
        ),
        (
            "a byte-flipped bundle",
            write_file(&source, "flipped.bundle", &flipped),
        ),
        ("an empty bundle", write_file(&source, "empty.bundle", &[])),
    ];
    for (what, path) in damaged {
        let target = Sandbox::new();
        let text = assert_failure(what, &target.jitos(&["import", &path]));
        assert!(
            text.contains("nothing was written"),
            "{what}: unclear refusal:\n{text}"
        );
        assert!(!target.store_dir().exists(), "{what}: a store was created");
        let left = leftovers(target.data_dir());
        assert!(left.is_empty(), "{what}: left behind {left:?}");
    }

    let target = Sandbox::new();
    assert_success(
        "importing the intact bundle",
        &target.jitos(&["import", &bundle_arg]),
    );
    assert!(
        target.store_dir().join("CURRENT").is_file(),
        "the intact import made no store"
    );
}

// Goal: one data directory serves one daemon. Method: start a second jitosd on a served
// data directory (and the same socket); it must exit non-zero naming the holder, while the
// first keeps serving on its socket.
#[test]
fn second_daemon_on_a_held_data_dir_is_refused() {
    let sandbox = Sandbox::new();
    let (mut daemon, head) = seeded(&sandbox);
    let refused = sandbox.jitosd_until_exit(&[]);
    let text = assert_failure("a second jitosd", &refused);
    assert!(
        text.contains("another jitosd") && text.contains(&format!("pid {}", daemon.pid())),
        "the refusal does not name the lock's holder (pid {}):\n{text}",
        daemon.pid()
    );
    assert_still_serving(&mut daemon, head, "a second jitosd");
    let mut client = daemon.client();
    let (seq, _) = apply(
        &mut client,
        rewrite(r#"{"ops": [{"add_node": {"id": "c", "kind": "Bad"}}]}"#),
    );
    assert_eq!(seq, head + 1, "the first daemon no longer commits");
}
