//! A networked program (`Spawn::net_namespace`): in a network namespace of its own whose
//! only service is its caller's proxy. Every escape is tried confined beside an
//! unconfined control that reaches the same service, and beside the allowed control (the
//! namespace's proxy port answers). Where a refusal could come from Landlock (TCP to any
//! port but the proxy's), the same probe runs again with the namespace's proxy port set to
//! the service's own port, so the namespace alone must refuse it.
//!
//! Making a namespace takes root: the suite's root run covers these; its run under a
//! second uid checks that such a caller gets the typed error.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

use jitos_sandbox::{Confinement, NetNamespace, NetNamespaceError};

use crate::harness::{is_root, s, Control, Ended, Runner, PROFILES};

/// What the test's services on the host answer.
const HOST_TOKEN: &str = "host-service";
/// What the namespace's stand-in proxy answers.
const NAMESPACE_TOKEN: &str = "namespace-proxy";

/// A namespace and its listener, or `None` (with a message) where this caller cannot make
/// one: CI runs as root, so there it must.
fn namespace(port: u16) -> Option<(NetNamespace, TcpListener)> {
    if !is_root() {
        if std::env::var_os(crate::UNPRIVILEGED_RUN).is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root: the network tests must run there"
            );
            eprintln!("skipped: only root can make a network namespace");
        }
        return None;
    }
    Some(NetNamespace::create(port).unwrap())
}

/// Answers every connection to `listener` with `token`, on a thread of its own.
fn serve_token(listener: TcpListener, token: &'static str) {
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let _ = stream.write_all(token.as_bytes());
        }
    });
}

/// Echoes every datagram to `socket`, on a thread of its own.
fn serve_echo(socket: UdpSocket) {
    std::thread::spawn(move || {
        let mut buffer = [0u8; 512];
        while let Ok((n, from)) = socket.recv_from(&mut buffer) {
            let _ = socket.send_to(&buffer[..n], from);
        }
    });
}

/// This host's address on its default route, if it has one (no packet is sent).
fn host_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    Some(socket.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
}

/// Runs `args` confined in `net` under each profile and returns how each ended.
fn confined(
    runner: &Runner,
    net: &NetNamespace,
    env: &[(&str, &str)],
    args: &[&str],
) -> Vec<Ended> {
    PROFILES
        .iter()
        .map(|&profile| {
            runner
                .confined_in(&Confinement::new(profile), None, Some(net), env, args)
                .0
        })
        .collect()
}

/// Asserts `args` is refused in `net` under each profile.
fn refused_in(runner: &Runner, net: &NetNamespace, args: &[&str]) {
    for ended in confined(runner, net, &[], args) {
        assert_eq!(ended, Ended::Refused, "{args:?} in the namespace");
    }
}

/// Asserts `args` works in `net` under each profile: the allowed control.
fn works_in(runner: &Runner, net: &NetNamespace, args: &[&str]) {
    for ended in confined(runner, net, &[], args) {
        assert_eq!(ended, Ended::Succeeded, "{args:?} in the namespace");
    }
}

/// Asserts the unconfined control of `args` works.
fn control_works(runner: &Runner, who: Control, args: &[&str]) {
    let (ended, text) = runner.unconfined(who, None, args);
    assert_eq!(ended, Ended::Succeeded, "control {args:?}: {text}");
}

/// The whole TCP case for a service listening at `service`: refused in a namespace with
/// another proxy port (Landlock and the namespace), refused in one whose proxy port is
/// the service's (the namespace alone), the proxy port reached in both, and the service
/// reached unconfined.
fn tcp_case(runner: &Runner, service: TcpListener) {
    let at = service.local_addr().unwrap();
    let (host, port) = (at.ip().to_string(), at.port().to_string());
    serve_token(service, HOST_TOKEN);
    let reach_service = ["tcp-token", host.as_str(), port.as_str(), HOST_TOKEN];
    control_works(runner, Control::Runner, &reach_service);

    let Some((net, proxy)) = namespace(0) else {
        return;
    };
    let proxy_port = net.proxy_port().to_string();
    serve_token(proxy, NAMESPACE_TOKEN);
    works_in(
        runner,
        &net,
        &["tcp-token", "127.0.0.1", &proxy_port, NAMESPACE_TOKEN],
    );
    refused_in(runner, &net, &reach_service);

    let (same_port, proxy) = NetNamespace::create(at.port()).unwrap();
    serve_token(proxy, NAMESPACE_TOKEN);
    works_in(
        runner,
        &same_port,
        &["tcp-token", "127.0.0.1", &port, NAMESPACE_TOKEN],
    );
    refused_in(runner, &same_port, &reach_service);
}

#[test]
fn a_direct_connect_to_the_hosts_loopback_is_refused() {
    // Goal: a networked program reaches no service on the host's 127.0.0.1; method: a
    // token server there, reached unconfined (control) and from the namespace (refused),
    // where the namespace's proxy answers (allowed control).
    let runner = Runner::new();
    tcp_case(&runner, TcpListener::bind("127.0.0.1:0").unwrap());
}

#[test]
fn a_direct_connect_to_the_hosts_own_address_is_refused() {
    // Goal: nor a service on the host's address on its network; method: as above, on the
    // address of the default route's interface (skipped, saying so, on a host with none).
    let Some(address) = host_address() else {
        eprintln!("skipped: this host has no address but loopback");
        return;
    };
    let runner = Runner::new();
    tcp_case(
        &runner,
        TcpListener::bind(SocketAddr::new(address, 0)).unwrap(),
    );
}

#[test]
fn ipv6_to_the_hosts_loopback_is_refused() {
    // Goal: IPv6 reaches nothing of the host either; method: a token server and an echo
    // server on the host's ::1 (skipped, saying so, where the host has no IPv6).
    let Ok(service) = TcpListener::bind("[::1]:0") else {
        eprintln!("skipped: this host has no IPv6 loopback");
        return;
    };
    let runner = Runner::new();
    tcp_case(&runner, service);
    let echo = UdpSocket::bind("[::1]:0").unwrap();
    let port = echo.local_addr().unwrap().port().to_string();
    serve_echo(echo);
    let args = ["udp-echo", "::1", port.as_str()];
    control_works(&runner, Control::Runner, &args);
    if let Some((net, _proxy)) = namespace(0) {
        refused_in(&runner, &net, &args);
    }
}

#[test]
fn udp_and_dns_to_the_host_are_refused() {
    // Goal: no datagram leaves the namespace: not to a UDP service on the host, not to
    // the host's resolver; method: an echo server on 127.0.0.1 and on the host's address,
    // and a DNS question to the first resolver of /etc/resolv.conf, each answered
    // unconfined and unanswered from the namespace.
    let runner = Runner::new();
    let mut services = vec![UdpSocket::bind("127.0.0.1:0").unwrap()];
    if let Some(address) = host_address() {
        services.push(UdpSocket::bind(SocketAddr::new(address, 0)).unwrap());
    }
    let net = namespace(0);
    for echo in services {
        let at = echo.local_addr().unwrap();
        serve_echo(echo);
        let (host, port) = (at.ip().to_string(), at.port().to_string());
        let args = ["udp-echo", host.as_str(), port.as_str()];
        control_works(&runner, Control::Runner, &args);
        if let Some((net, _)) = &net {
            refused_in(&runner, net, &args);
        }
    }
    let resolver = std::fs::read_to_string("/etc/resolv.conf")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("nameserver").map(|a| a.trim().to_owned()));
    let Some(resolver) = resolver else {
        eprintln!("skipped: /etc/resolv.conf names no resolver");
        return;
    };
    let args = ["dns", resolver.as_str()];
    let (control, text) = runner.unconfined(Control::Runner, None, &args);
    if control != Ended::Succeeded {
        eprintln!("skipped: the resolver {resolver} does not answer here: {text}");
        return;
    }
    if let Some((net, _)) = &net {
        refused_in(&runner, net, &args);
    }
}

#[test]
fn raw_packet_netlink_and_unix_sockets_are_refused_to_a_networked_program() {
    // Goal: a networked program makes TCP and UDP sockets only: no raw IP socket, no
    // packet or netlink socket, and no unix socket (it may connect, so one could reach the
    // daemon's socket file); method: make each (the raw ones need privileges, so their
    // controls run as root) and connect to a unix listener outside.
    let runner = Runner::new();
    let outside = runner.tempdir();
    let path = outside.path().join("daemon.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    runner.give(&path);
    let privileged = ["raw-socket", "raw6-socket", "packet-socket"];
    for action in privileged {
        if is_root() {
            control_works(&runner, Control::Privileged, &[action]);
        }
    }
    control_works(&runner, Control::Runner, &["netlink-socket"]);
    control_works(&runner, Control::Runner, &["unix-connect", s(&path)]);
    let Some((net, _proxy)) = namespace(0) else {
        return;
    };
    for action in privileged.into_iter().chain(["netlink-socket"]) {
        refused_in(&runner, &net, &[action]);
    }
    refused_in(&runner, &net, &["unix-connect", s(&path)]);
    // Its own channels still work.
    works_in(&runner, &net, &["socketpair"]);
}

#[test]
fn the_proxy_probe_asks_the_proxy_of_its_environment() {
    // Goal: the `proxy-connect` probe the daemon's system test uses tells a proxy's yes
    // from its no; method: a stand-in proxy on the namespace's listener that allows one
    // host, asked for it (works) and for another (refused).
    let Some((net, proxy)) = namespace(0) else {
        return;
    };
    let runner = Runner::new();
    std::thread::spawn(move || {
        for stream in proxy.incoming().flatten() {
            let mut stream = stream;
            let mut head = Vec::new();
            let mut buffer = [0u8; 256];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buffer[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let answer = if head.starts_with("CONNECT allowed.example:443 ") {
                "HTTP/1.1 200 Connection established\r\n\r\n"
            } else {
                "HTTP/1.1 403 Forbidden\r\n\r\n"
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let proxy_url = format!("http://127.0.0.1:{}", net.proxy_port());
    let env = [("HTTPS_PROXY", proxy_url.as_str())];
    let allowed = confined(
        &runner,
        &net,
        &env,
        &["proxy-connect", "allowed.example", "443"],
    );
    assert!(
        allowed.iter().all(|e| *e == Ended::Succeeded),
        "{allowed:?}"
    );
    let other = confined(
        &runner,
        &net,
        &env,
        &["proxy-connect", "other.example", "443"],
    );
    assert!(other.iter().all(|e| *e == Ended::Refused), "{other:?}");
}

#[test]
fn a_caller_that_is_not_root_gets_a_typed_error() {
    // Goal: without root there is no namespace, and the error says why; method: ask as
    // this caller (the suite's run under a second uid is one).
    if is_root() {
        return;
    }
    let error = NetNamespace::create(0).unwrap_err();
    assert!(matches!(error, NetNamespaceError::NotRoot), "{error}");
}

#[test]
fn a_networked_program_reads_the_certificate_authorities() {
    // Goal: a TLS client in the namespace can check the host at the other end of its
    // tunnel, and only a networked program is given the authorities; method: read the
    // system's bundle with and without a namespace (skipped, saying so, where it is
    // missing).
    let bundle = "/etc/ssl/certs/ca-certificates.crt";
    if !std::path::Path::new(bundle).exists() {
        eprintln!("skipped: {bundle} is missing");
        return;
    }
    let runner = Runner::new();
    runner.refused(&["read", bundle]);
    let Some((net, _proxy)) = namespace(0) else {
        return;
    };
    works_in(&runner, &net, &["read", bundle]);
}
