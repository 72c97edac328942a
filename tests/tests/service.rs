//! `jitosd` as a system service: started by socket activation it serves on the socket the
//! service manager passed and leaves it in place when it stops; the packaged units, users
//! and directories name the same socket, group and store, and the Debian package installs
//! what they run where they and the daemon look.
#![allow(clippy::unwrap_used)]

use std::{collections::BTreeMap, fs, path::PathBuf};

use jitos_system_tests::{assert_success, Sandbox};

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
    assert_eq!(
        unit_value(&service, "ExecReload"),
        ["/usr/bin/jitosd --check-config", "/bin/kill -HUP $MAINPID"],
        "systemctl reload sends what jitosd reloads on"
    );

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

/// The Debian package's metadata, `[package.metadata.deb]` of bins/jitosd/Cargo.toml.
fn deb_metadata() -> toml::Table {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bins/jitosd/Cargo.toml");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    manifest["package"]["metadata"]["deb"]
        .as_table()
        .unwrap()
        .clone()
}

/// Each file the package installs (its path without the leading `/`), and its source.
fn installed_files(deb: &toml::Table) -> BTreeMap<String, String> {
    deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|asset| {
            let source = asset[0].as_str().unwrap();
            let dest = asset[1].as_str().unwrap();
            let installed = match dest.strip_suffix('/') {
                Some(dir) => format!("{dir}/{}", source.rsplit('/').next().unwrap()),
                None => dest.to_owned(),
            };
            (installed, source.to_owned())
        })
        .collect()
}

// Goal: the package installs what the units run and what the daemon looks for: jitosd
// where the service runs it, each built-in worker in /usr/lib/jitos/workers (where
// /usr/bin/jitosd looks without --worker-dir), the group and directories where
// systemd-sysusers and systemd-tmpfiles read them, the units from packaging/, and an
// access file that opens the socket to the socket unit's group. Method: read the
// package's assets and the files they ship.
#[test]
fn the_package_installs_what_the_units_run_where_they_look() {
    let deb = deb_metadata();
    let files = installed_files(&deb);
    let service = packaging("systemd/jitosd.service");
    let socket_unit = packaging("systemd/jitosd.socket");

    let exec_start = unit_value(&service, "ExecStart");
    assert_eq!(exec_start, ["/usr/bin/jitosd"]);
    assert_eq!(files["usr/bin/jitosd"], "target/release/jitosd");
    assert_eq!(files["usr/bin/jitos"], "target/release/jitos");
    let workers = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workers");
    let mut built_in = 0;
    for entry in fs::read_dir(&workers).unwrap() {
        let manifest = entry.unwrap().path().join("worker.toml");
        if !manifest.is_file() {
            continue;
        }
        let manifest: toml::Table =
            toml::from_str(&fs::read_to_string(&manifest).unwrap()).unwrap();
        let binary = manifest["binary"].as_str().unwrap();
        assert_eq!(
            files.get(&format!("usr/lib/jitos/workers/{binary}")),
            Some(&format!("target/release/{binary}")),
            "the package does not install the built-in worker {binary}"
        );
        built_in += 1;
    }
    assert_eq!(
        built_in, 4,
        "the built-in workers are noop, shell, scaffold and llm"
    );

    assert_eq!(
        files["usr/lib/sysusers.d/jitos.conf"],
        "../../packaging/sysusers.d/jitos.conf"
    );
    assert_eq!(
        files["usr/lib/tmpfiles.d/jitos.conf"],
        "../../packaging/tmpfiles.d/jitos.conf"
    );
    // cargo-deb installs the units it finds there named for the package.
    assert_eq!(
        deb["maintainer-scripts"].as_str(),
        Some("../../packaging/systemd")
    );
    assert!(deb.get("name").is_none(), "the package is not named jitosd");

    assert_eq!(
        files["etc/jitos/jitosd.toml"],
        "../../packaging/etc/jitosd.toml"
    );
    let config: toml::Table = toml::from_str(&packaging("etc/jitosd.toml")).unwrap();
    let access_path = config["access"].as_str().unwrap();
    assert_eq!(
        files[access_path.trim_start_matches('/')],
        "../../packaging/etc/access.toml"
    );
    let access: toml::Table = toml::from_str(&packaging("etc/access.toml")).unwrap();
    assert_eq!(
        [access["socket"]["group"].as_str().unwrap()],
        unit_value(&socket_unit, "SocketGroup").as_slice()
    );
}

// Goal: the configuration file the package ships is one jitosd takes: each key a flag,
// each value one its flag accepts. Method: `jitosd --check-config` with that file, the
// access file it names replaced by an empty one (its group need not exist on this host).
#[test]
fn the_packaged_configuration_passes_the_daemons_check() {
    let sandbox = Sandbox::new();
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../packaging/etc/jitosd.toml");
    let access = sandbox.path().join("access.toml");
    fs::write(&access, "").unwrap();
    let out = sandbox.jitosd_bare(
        &["--check-config"],
        &[
            ("JITOS_CONFIG", config.to_str().unwrap()),
            ("JITOS_ACCESS", access.to_str().unwrap()),
        ],
    );
    assert_success("jitosd --check-config", &out);
}
