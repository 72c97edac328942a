//! The probe's network actions: each succeeds only when it reached the service the test
//! meant (a token read back, an echo, a DNS answer, a proxy's yes), so a connection that
//! lands somewhere else (the namespace's own `lo`) counts as refused.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::time::Duration;

/// How long a probe waits to connect and for an answer.
const WAIT: Duration = Duration::from_secs(2);

fn address(host: &str, port: &str) -> std::io::Result<SocketAddr> {
    let port: u16 = super::number(port);
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other(format!("{host} names no address")))
}

/// Connects to `host:port` and succeeds when `token` is among the first bytes read.
pub fn tcp_token(host: &str, port: &str, token: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&address(host, port)?, WAIT)?;
    stream.set_read_timeout(Some(WAIT))?;
    let mut read = Vec::new();
    let mut buffer = [0u8; 256];
    while read.len() < 4096 {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        read.extend_from_slice(&buffer[..n]);
        if read.windows(token.len()).any(|w| w == token.as_bytes()) {
            return Ok(());
        }
    }
    Err(std::io::Error::other(format!(
        "connected, but to something else: read {:?}",
        String::from_utf8_lossy(&read)
    )))
}

/// Sends a datagram to `host:port` and succeeds when it is echoed back.
pub fn udp_echo(host: &str, port: &str) -> std::io::Result<()> {
    let to = address(host, port)?;
    let socket = bound_for(&to)?;
    socket.connect(to)?;
    socket.set_read_timeout(Some(WAIT))?;
    let sent = b"jitos-probe-echo";
    socket.send(sent)?;
    let mut buffer = [0u8; 64];
    let n = socket.recv(&mut buffer)?;
    if &buffer[..n] == sent {
        Ok(())
    } else {
        Err(std::io::Error::other("an answer, but not the echo"))
    }
}

/// Asks the resolver at `host` (port 53, UDP) for the root's NS records and succeeds on
/// any answer to that question.
pub fn dns(host: &str) -> std::io::Result<()> {
    let to = address(host, "53")?;
    let socket = bound_for(&to)?;
    socket.connect(to)?;
    socket.set_read_timeout(Some(WAIT))?;
    let id = (std::process::id() as u16).to_be_bytes();
    // Header: id, RD, one question; question: the root name, type NS, class IN.
    let query = [
        id[0], id[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1,
    ];
    socket.send(&query)?;
    let mut buffer = [0u8; 512];
    let n = socket.recv(&mut buffer)?;
    if n >= 4 && buffer[..2] == id && buffer[2] & 0x80 != 0 {
        Ok(())
    } else {
        Err(std::io::Error::other("an answer, but not to the question"))
    }
}

fn bound_for(to: &SocketAddr) -> std::io::Result<UdpSocket> {
    match to {
        SocketAddr::V4(_) => UdpSocket::bind("0.0.0.0:0"),
        SocketAddr::V6(_) => UdpSocket::bind("[::]:0"),
    }
}

/// Asks the proxy named by `HTTPS_PROXY` (`http://127.0.0.1:PORT`, as a network job's
/// environment holds it) to `CONNECT host:port`; succeeds when it answers 200.
pub fn proxy_connect(host: &str, port: &str) -> std::io::Result<()> {
    let proxy = std::env::var("HTTPS_PROXY")
        .unwrap_or_else(|_| super::usage("HTTPS_PROXY is not set: no proxy to ask"));
    let authority = proxy
        .strip_prefix("http://")
        .map(|rest| rest.trim_end_matches('/'))
        .unwrap_or_else(|| super::usage(&format!("HTTPS_PROXY {proxy:?} is not http://HOST:PORT")));
    let mut stream = TcpStream::connect(authority)?;
    stream.set_read_timeout(Some(WAIT))?;
    let target = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    // One write, so a proxy that answers its first read sees the whole head.
    stream.write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())?;
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer)?;
    let answer = String::from_utf8_lossy(&answer[..n]);
    let status = answer.lines().next().unwrap_or_default();
    if status.split(' ').nth(1) == Some("200") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("the proxy said {answer:?}")))
    }
}
