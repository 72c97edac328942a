//! The egress proxy of network jobs against real TCP servers on 127.0.0.1: what it lets
//! through is relayed both ways and reported with its byte counts, what it does not is
//! answered with the reason and reported as refused, and no bad client hurts it.
//! (The proxy runs here on a plain listener; the escape suite shows the namespace it
//! serves in a job.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use jitosd::egress::{ConnectionEnd, ConnectionReport, EgressAllow, Proxy, HEAD_BYTES_MAX};

/// How long a test waits for an answer or a report.
const WAIT: Duration = Duration::from_secs(5);
/// The head timeout the proxy runs with here, so a head that never ends is cut quickly.
const HEAD_TIMEOUT: Duration = Duration::from_millis(300);

/// A proxy on 127.0.0.1 with its runtime and its reports.
struct Running {
    _runtime: tokio::runtime::Runtime,
    proxy: Option<Proxy>,
    port: u16,
    reports: mpsc::Receiver<ConnectionReport>,
}

impl Running {
    fn new(allow: EgressAllow) -> Running {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (sent, reports) = mpsc::channel();
        let sent = std::sync::Mutex::new(sent);
        let reporter = Arc::new(move |report: ConnectionReport| {
            let _ = sent.lock().unwrap().send(report);
        });
        let proxy = Proxy::start_with_head_timeout(
            runtime.handle(),
            listener,
            allow,
            reporter,
            HEAD_TIMEOUT,
        )
        .unwrap();
        Running {
            _runtime: runtime,
            proxy: Some(proxy),
            port,
            reports,
        }
    }

    fn client(&self) -> TcpStream {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream
    }

    fn report(&self) -> ConnectionReport {
        self.reports.recv_timeout(WAIT).expect("a report")
    }
}

/// Reads until the end of a response head, byte by byte, so nothing after it is taken.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// Reads everything until the peer closes (or resets).
fn read_all(stream: &mut TcpStream) -> String {
    let mut read = Vec::new();
    let _ = stream.read_to_end(&mut read);
    String::from_utf8_lossy(&read).into_owned()
}

/// A server that answers one connection by `serve`, on a thread of its own.
fn server(serve: impl FnOnce(TcpStream) + Send + 'static) -> (u16, TcpListener) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepting = listener.try_clone().unwrap();
    std::thread::spawn(move || {
        if let Ok((stream, _)) = accepting.accept() {
            serve(stream);
        }
    });
    (port, listener)
}

fn connect_head(port: u16) -> String {
    format!("CONNECT 127.0.0.1:{port} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n")
}

#[test]
fn an_allowed_connect_relays_both_ways_and_is_reported() {
    // Goal: a tunnel to an allowed destination carries bytes both ways, and its report
    // counts them; method: a server that reads "hello" and answers "world!", reached
    // through CONNECT.
    let (port, _server) = server(|mut stream| {
        let mut hello = [0u8; 5];
        stream.read_exact(&mut hello).unwrap();
        assert_eq!(&hello, b"hello");
        stream.write_all(b"world!").unwrap();
    });
    let proxy = Running::new(EgressAllow::only([("127.0.0.1", port)]));
    let mut client = proxy.client();
    client.write_all(connect_head(port).as_bytes()).unwrap();
    let head = read_head(&mut client);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    client.write_all(b"hello").unwrap();
    assert_eq!(read_all(&mut client), "world!");
    drop(client);
    let report = proxy.report();
    assert_eq!(report.end, ConnectionEnd::Relayed);
    assert_eq!(report.method.as_deref(), Some("CONNECT"));
    assert_eq!(
        report.destination.map(|d| d.to_string()),
        Some(format!("127.0.0.1:{port}"))
    );
    assert_eq!((report.bytes_up, report.bytes_down), (5, 6));
}

#[test]
fn a_plain_get_is_forwarded_in_origin_form() {
    // Goal: a plain-HTTP request with an absolute URI reaches its destination in origin
    // form, with its own Host and no proxy fields, and the answer comes back; method: a
    // server that records the head it gets and answers "ok".
    let (got, seen) = mpsc::channel();
    let (port, _server) = server(move |mut stream| {
        let head = read_head(&mut stream);
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .unwrap();
        got.send(head).unwrap();
    });
    let proxy = Running::new(EgressAllow::only([("127.0.0.1", port)]));
    let mut client = proxy.client();
    let request = format!(
        "GET http://127.0.0.1:{port}/path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
         Proxy-Connection: keep-alive\r\nAccept: */*\r\n\r\n"
    );
    client.write_all(request.as_bytes()).unwrap();
    let response = read_all(&mut client);
    assert!(
        response.starts_with("HTTP/1.1 200 OK") && response.ends_with("ok"),
        "{response}"
    );
    let forwarded = seen.recv_timeout(WAIT).unwrap();
    assert_eq!(
        forwarded,
        format!(
            "GET /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: */*\r\n\
             Connection: close\r\n\r\n"
        )
    );
    let report = proxy.report();
    assert_eq!(report.end, ConnectionEnd::Relayed);
    assert_eq!(report.method.as_deref(), Some("GET"));
    assert_eq!(report.bytes_up, forwarded.len() as u64);
    assert_eq!(report.bytes_down, response.len() as u64);
}

#[test]
fn a_destination_not_allowed_is_refused_with_403_and_reported() {
    // Goal: the proxy reaches nothing its allow list does not name, and says why; method:
    // CONNECT and a plain GET to a live server on a port the list does not hold, and
    // CONNECT to this host's loopback under "any host"; the server must accept nothing.
    let (port, listener) = server(|_| {});
    let proxy = Running::new(EgressAllow::only([("127.0.0.1", port.wrapping_add(1))]));
    for request in [
        connect_head(port),
        format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n\r\n"),
    ] {
        let mut client = proxy.client();
        client.write_all(request.as_bytes()).unwrap();
        let response = read_all(&mut client);
        assert!(
            response.starts_with("HTTP/1.1 403 ") && response.contains("is not allowed"),
            "{response}"
        );
        let report = proxy.report();
        assert!(!report.allowed(), "{report:?}");
        assert!(
            matches!(&report.end, ConnectionEnd::Refused { reason } if reason.contains("not allowed")),
            "{report:?}"
        );
        assert_eq!(report.destination.unwrap().port, port);
        assert_eq!((report.bytes_up, report.bytes_down), (0, 0));
    }
    let any = Running::new(EgressAllow::Any);
    let mut client = any.client();
    client.write_all(connect_head(port).as_bytes()).unwrap();
    let response = read_all(&mut client);
    assert!(
        response.starts_with("HTTP/1.1 403 ") && response.contains("this host"),
        "{response}"
    );
    assert!(!any.report().allowed());
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept().map(|_| ());
    assert_eq!(
        accepted.map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock),
        "the server was reached"
    );
}

#[test]
fn bad_clients_get_an_error_or_are_closed_and_the_proxy_survives() {
    // Goal: garbage, a head larger than the limit and a head that never ends each end
    // their own connection with an error (or a close) and a refused report, and the proxy
    // still serves the next client; method: send each, then an allowed CONNECT.
    let (port, _server) = server(|mut stream| {
        stream.write_all(b"still here").unwrap();
    });
    let proxy = Running::new(EgressAllow::only([("127.0.0.1", port)]));

    let mut garbage = proxy.client();
    garbage
        .write_all(b"\x16\x03\x01\x00\xa5garbage\r\n\r\n")
        .unwrap();
    let response = read_all(&mut garbage);
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    let report = proxy.report();
    assert!(
        !report.allowed() && report.destination.is_none(),
        "{report:?}"
    );

    let mut huge = proxy.client();
    let mut request = format!("GET http://127.0.0.1:{port}/ HTTP/1.1\r\n").into_bytes();
    while request.len() <= HEAD_BYTES_MAX + 1024 {
        request.extend_from_slice(b"X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    // The proxy may close before it has read it all; a reset is an answer too.
    let _ = huge.write_all(&request);
    let response = read_all(&mut huge);
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 431 "),
        "{response}"
    );
    let report = proxy.report();
    assert!(
        matches!(&report.end, ConnectionEnd::Refused { reason } if reason.contains("larger than")
            || reason.contains("header fields")),
        "{report:?}"
    );

    let mut slow = proxy.client();
    slow.write_all(b"GET http://127.0.0.1/ HTTP/1.1\r\nX-Slow: y\r\n")
        .unwrap();
    let response = read_all(&mut slow);
    assert!(response.starts_with("HTTP/1.1 408 "), "{response}");
    let report = proxy.report();
    assert!(
        matches!(&report.end, ConnectionEnd::Refused { reason } if reason.contains("did not arrive")),
        "{report:?}"
    );

    let mut client = proxy.client();
    client.write_all(connect_head(port).as_bytes()).unwrap();
    assert!(read_head(&mut client).starts_with("HTTP/1.1 200 "));
    assert_eq!(read_all(&mut client), "still here");
    assert!(proxy.report().allowed());
}

#[test]
fn stopping_ends_open_tunnels_and_reports_them() {
    // Goal: when an attempt ends, its proxy ends every tunnel still open and reports it
    // with the bytes it carried before stop returns; method: a tunnel to a server that
    // never closes, three bytes sent, then stop.
    let (held, hold) = mpsc::channel::<()>();
    let (port, _server) = server(move |mut stream| {
        let mut abc = [0u8; 3];
        stream.read_exact(&mut abc).unwrap();
        held.send(()).unwrap();
        let _ = stream.read(&mut abc);
    });
    let mut proxy = Running::new(EgressAllow::only([("127.0.0.1", port)]));
    let mut client = proxy.client();
    client.write_all(connect_head(port).as_bytes()).unwrap();
    assert!(read_head(&mut client).starts_with("HTTP/1.1 200 "));
    client.write_all(b"abc").unwrap();
    hold.recv_timeout(WAIT).unwrap();
    assert!(
        proxy.proxy.take().unwrap().stop(WAIT),
        "stop waited in vain"
    );
    let report = proxy
        .reports
        .try_recv()
        .expect("reported before stop returned");
    assert_eq!(report.end, ConnectionEnd::Relayed);
    assert_eq!((report.bytes_up, report.bytes_down), (3, 0));
    // The client's side is closed too.
    assert_eq!(read_all(&mut client), "");
}

#[test]
fn curl_in_an_attempts_namespace_reaches_only_what_is_allowed() {
    // Goal: the whole way out of a network job works with a real client: curl, confined
    // as a `shell` worker in the attempt's namespace with the proxy in its environment,
    // fetches from an allowed server through the proxy, is refused another, and cannot
    // go around the proxy; method: two HTTP servers on the host's 127.0.0.1, one allowed.
    use jitos_sandbox::{Confinement, Profile, Spawn, Stdio, UidPool};
    use jitosd::egress::AttemptEgress;
    if !nix::unistd::Uid::effective().is_root() || !std::path::Path::new("/usr/bin/curl").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with curl: this test must run there"
        );
        eprintln!("skipped: needs root (a network namespace) and /usr/bin/curl");
        return;
    }
    let answer = |body: &'static str| {
        move |mut stream: TcpStream| {
            let _ = read_head(&mut stream);
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    };
    let (allowed, _a) = server(answer("allowed-body"));
    let (other, _b) = server(answer("other-body"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (sent, reports) = mpsc::channel();
    let sent = std::sync::Mutex::new(sent);
    let egress = AttemptEgress::open(
        runtime.handle(),
        EgressAllow::only([("127.0.0.1", allowed)]),
        Arc::new(move |report| {
            let _ = sent.lock().unwrap().send(report);
        }),
    )
    .unwrap();
    let uid = UidPool::host().unwrap().lend().unwrap();
    let curl = |url: String, proxied: bool| {
        let (mut reader, writer) = std::io::pipe().unwrap();
        let mut spawn = Spawn::new("/usr/bin/curl")
            .args(["-sS", "--max-time", "5", &url])
            .uid(uid.uid())
            .cwd("/")
            .stdio(
                Stdio::Null,
                Stdio::Fd(writer.try_clone().unwrap().into()),
                Stdio::Fd(writer.into()),
            )
            .net_namespace(egress.namespace().unwrap());
        if proxied {
            for (name, value) in egress.env() {
                spawn = spawn.env(name, value);
            }
        }
        let mut process = Confinement::new(Profile::Shell).spawn(spawn).unwrap();
        let mut text = String::new();
        reader.read_to_string(&mut text).unwrap();
        (process.wait().unwrap().success(), text)
    };
    let (ok, text) = curl(format!("http://127.0.0.1:{allowed}/"), true);
    assert!(ok && text == "allowed-body", "{text}");
    let report = reports.recv_timeout(WAIT).unwrap();
    assert!(report.allowed() && report.bytes_down > 0, "{report:?}");
    let (ok, text) = curl(format!("http://127.0.0.1:{other}/"), true);
    assert!(!ok || text.contains("is not allowed"), "{text}");
    assert!(!text.contains("other-body"), "{text}");
    assert!(!reports.recv_timeout(WAIT).unwrap().allowed());
    let (ok, text) = curl(format!("http://127.0.0.1:{allowed}/"), false);
    assert!(!ok && !text.contains("allowed-body"), "{text}");
    assert!(egress.stop(WAIT));
}

#[test]
fn an_ipv6_destination_is_named_in_brackets() {
    // Goal: an IPv6 destination is compared in the writ's spelling (brackets, one form)
    // and reached; method: a server on ::1, allowed as "[0::1]", reached by CONNECT
    // [::1]:port (skipped, saying so, on a host without IPv6).
    let Ok(listener) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.write_all(b"six");
        }
    });
    let proxy = Running::new(EgressAllow::only([("[0::1]", port)]));
    let mut client = proxy.client();
    let request = format!("CONNECT [::1]:{port} HTTP/1.1\r\nHost: [::1]:{port}\r\n\r\n");
    client.write_all(request.as_bytes()).unwrap();
    assert!(read_head(&mut client).starts_with("HTTP/1.1 200 "));
    assert_eq!(read_all(&mut client), "six");
    let report = proxy.report();
    assert_eq!(
        report.destination.map(|d| d.to_string()),
        Some(format!("[::1]:{port}"))
    );
    assert_eq!(report.bytes_down, 3);
}
