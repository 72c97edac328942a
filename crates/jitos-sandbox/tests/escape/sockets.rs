//! The network and local sockets.

use std::net::TcpListener;

use jitos_sandbox::Confinement;

use crate::harness::{s, Control, Ended, Runner, PROFILES};

#[test]
fn ip_and_raw_sockets_are_refused() {
    // Goal: no networking but local sockets; method: create AF_INET, AF_INET6 and netlink
    // sockets, and a packet socket (which only a privileged caller can create at all).
    let runner = Runner::new();
    for kind in ["inet-socket", "inet6-socket", "netlink-socket"] {
        runner.refused(&[kind]);
    }
    runner.refused_beside(
        Confinement::new,
        Control::Privileged,
        None,
        &["packet-socket"],
    );
}

#[test]
fn tcp_connect_is_refused() {
    // Goal: no TCP to local services; method: connect to a listener this test opened.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    Runner::new().refused(&["tcp-connect", &port]);
}

#[test]
fn reaching_a_unix_socket_outside_is_refused() {
    // Goal: a worker cannot reach the daemon's socket or any other bound socket; method:
    // connect to a stream listener and send to a datagram socket, from an unbound
    // datagram socket, from one end of a datagram pair and from a unix socket of type
    // SOCK_RAW (which the kernel makes a datagram one), both bound in an ungranted dir
    // (the daemon's socket is such a file).
    let runner = Runner::new();
    let (rw, outside) = (runner.tempdir(), runner.tempdir());
    let stream = outside.path().join("daemon.sock");
    let _stream = std::os::unix::net::UnixListener::bind(&stream).unwrap();
    runner.give(&stream);
    let dgram = outside.path().join("log.sock");
    let _dgram = std::os::unix::net::UnixDatagram::bind(&dgram).unwrap();
    runner.give(&dgram);
    for (action, path) in [
        ("unix-connect", &stream),
        ("unix-dgram-send", &dgram),
        ("unix-dgram-pair-send", &dgram),
        ("unix-raw-send", &dgram),
    ] {
        runner.refused_writing_only(rw.path(), &[action, s(path)]);
    }
}

#[test]
fn socket_pairs_still_work() {
    // Goal: the socket rules leave a worker its own local channels (the protocol's fd 3
    // is one); method: create a unix socket pair under each profile.
    let runner = Runner::new();
    for profile in PROFILES {
        assert_eq!(
            runner.probe(&Confinement::new(profile), &["socketpair"]),
            Ended::Succeeded
        );
    }
}
