//! `jitosd` as a system service: started by socket activation it serves on the socket the
//! service manager passed and leaves it in place when it stops; the packaged units, users
//! and directories name the same socket, group and store.
#![allow(clippy::unwrap_used)]

use std::{fs, path::PathBuf};

use jitos_system_tests::Sandbox;

// Goal: a daemon passed its listening socket (LISTEN_FDS, LISTEN_PID) serves on it, says
// so, and does not remove it when it stops, since the service manager owns it. Method: a
// socket bound and listening before jitosd starts, handed over as fd 3 by a shell that
// execs jitosd; a status through it; a SIGTERM.
#[test]
fn a_socket_activated_daemon_serves_on_the_passed_socket_and_leaves_it() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_socket_activated();
    let status = sandbox.jitos_json(&["status"]);
    assert_eq!(status["head_seq"], 0, "{status:#}");
    let log = daemon.terminate();
    assert_eq!(ready_field(&log, "socket_activated"), true, "{log}");
    assert!(
        sandbox.socket().exists(),
        "the daemon removed the socket the service manager owns"
    );

    // A daemon that binds its own socket still removes it.
    fs::remove_file(sandbox.socket()).unwrap();
    let daemon = sandbox.start();
    let log = daemon.terminate();
    assert_eq!(ready_field(&log, "socket_activated"), false, "{log}");
    assert!(!sandbox.socket().exists(), "a bound socket was left behind");
}

/// A field of the daemon's "jitosd ready" line, from its JSON log.
fn ready_field(log: &str, field: &str) -> serde_json::Value {
    log.lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|line| line["fields"]["message"] == "jitosd ready")
        .map(|line| line["fields"][field].clone())
        .unwrap_or_else(|| panic!("no ready line in:\n{log}"))
}

fn packaging(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../packaging")
        .join(path);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The values of `key=` in a unit file, in order.
fn unit_value<'a>(text: &'a str, key: &str) -> Vec<&'a str> {
    text.lines()
        .filter_map(|line| line.strip_prefix(&format!("{key}=")))
        .collect()
}

// Goal: the socket unit, the service, sysusers and tmpfiles agree: one socket path, one
// group, the socket's directory made with the mode the socket unit asks and the daemon's
// own bind would check, and the service checks its configuration before it starts.
// Method: read the packaged files.
#[test]
fn the_packaged_units_users_and_directories_agree() {
    let socket_unit = packaging("systemd/jitosd.socket");
    let service = packaging("systemd/jitosd.service");
    let sysusers = packaging("sysusers.d/jitos.conf");
    let tmpfiles = packaging("tmpfiles.d/jitos.conf");

    let listen = unit_value(&socket_unit, "ListenStream");
    assert_eq!(listen, ["/run/jitos/jitosd.sock"]);
    let environment = unit_value(&service, "Environment");
    assert!(
        environment.contains(&"JITOS_SOCKET=/run/jitos/jitosd.sock"),
        "{environment:?}"
    );
    assert!(
        environment.contains(&"JITOS_DATA_DIR=/var/lib/jitos"),
        "{environment:?}"
    );
    assert_eq!(
        unit_value(&service, "ExecStartPre"),
        ["/usr/bin/jitosd --check-config"]
    );
    assert_eq!(unit_value(&service, "Requires"), ["jitosd.socket"]);

    let group = unit_value(&socket_unit, "SocketGroup");
    assert_eq!(group, ["jitos"]);
    assert!(
        sysusers.lines().any(|line| line.trim() == "g jitos -"),
        "{sysusers}"
    );
    assert_eq!(unit_value(&socket_unit, "SocketMode"), ["0660"]);
    assert_eq!(unit_value(&socket_unit, "DirectoryMode"), ["0710"]);
    assert!(
        tmpfiles
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == ["d", "/run/jitos", "0710", "root", "jitos", "-"]),
        "{tmpfiles}"
    );
    assert!(
        tmpfiles
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == ["d", "/var/lib/jitos", "0700", "root", "root", "-"]),
        "{tmpfiles}"
    );
}
