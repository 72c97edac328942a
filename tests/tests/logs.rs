//! `jitosd`'s log: JSON lines when standard error is not a terminal, each with the span it
//! is in (the connection's uid and pid), text when asked for.
#![allow(clippy::unwrap_used)]

use std::{io::Write as _, os::unix::net::UnixStream, time::Duration};

use jitos_system_tests::{assert_success, wait_for_process, Sandbox};
use serde_json::Value;

/// Every line of `log`, each parsed as JSON, or a panic naming the one that is not.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

// Goal: with its standard error in a file, every log line is one JSON object with a
// level, a message and its fields, and a line logged for a connection carries the
// connection's span (uid, pid). Method: start a daemon, send its socket a bad hello,
// stop it, and read its log.
#[test]
fn a_daemons_log_is_json_lines_with_the_connection_span() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut stream = UnixStream::connect(sandbox.socket()).unwrap();
    stream
        .write_all(b"not a hello at all, far too short")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // The daemon answers with an error frame and closes; wait for the close.
    let _ = std::io::Read::read_to_end(&mut stream, &mut Vec::new());
    let log = daemon.terminate();
    let lines = json_lines(&log);
    let ready = lines
        .iter()
        .find(|line| line["fields"]["message"] == "jitosd ready")
        .unwrap_or_else(|| panic!("no ready line:\n{log}"));
    assert_eq!(ready["level"], "INFO");
    assert_eq!(
        ready["fields"]["socket"],
        sandbox.socket().display().to_string()
    );
    let refused = lines
        .iter()
        .find(|line| line["fields"]["message"] == "handshake refused")
        .unwrap_or_else(|| panic!("no refused handshake:\n{log}"));
    assert_eq!(refused["span"]["name"], "connection", "{refused}");
    assert_eq!(
        refused["span"]["uid"],
        u64::from(nix::unistd::getuid().as_raw()),
        "{refused}"
    );
    assert_eq!(
        refused["span"]["pid"],
        u64::from(std::process::id()),
        "{refused}"
    );
}

// Goal: what is logged while an attempt runs carries the attempt's span: its id, worker
// and workspace. Method: a shell job on a daemon logging at debug, and the line its end
// logs.
#[test]
fn an_attempts_lines_carry_its_span() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--log", "info,jitosd=debug"]);
    let ran = sandbox.jitos_json(&["job", "run", "shell", "--new-sws", "--", "true"]);
    let attempt = ran["id"].as_u64().unwrap_or_else(|| panic!("{ran:#}"));
    let log = daemon.terminate();
    let ended = json_lines(&log)
        .into_iter()
        .find(|line| line["fields"]["message"] == "the attempt proposed")
        .unwrap_or_else(|| panic!("no attempt's end:\n{log}"));
    assert_eq!(ended["level"], "DEBUG");
    assert_eq!(ended["fields"]["done"], true, "{ended}");
    assert_eq!(ended["span"]["name"], "attempt", "{ended}");
    assert_eq!(ended["span"]["attempt"], attempt, "{ended}");
    assert_eq!(ended["span"]["worker"], "shell", "{ended}");
    assert_eq!(ended["span"]["sws"], ran["sws"], "{ended}");
}

// Goal: at debug, the kernel logs each group it commits (its seqs) and the scheduler each
// decision (its process and what it decided), so an operator can follow a process in the
// log. Method: a one-step process on a daemon logging at debug.
#[test]
fn commits_and_decisions_are_logged_at_debug() {
    let sandbox = Sandbox::new();
    let methods = sandbox.path().join("methods");
    std::fs::create_dir_all(&methods).unwrap();
    std::fs::write(
        methods.join("look.toml"),
        "[task.look]\nparams = []\nrun = { worker = \"noop\", args = [], effect = \"none\", timeout_secs = 10 }\n",
    )
    .unwrap();
    let daemon = sandbox.start_with(&[
        "--methods-dir",
        methods.to_str().unwrap(),
        "--log",
        "info,jitosd=debug,jitos_kernel=debug",
    ]);
    let intent = sandbox.path().join("look.toml");
    std::fs::write(&intent, "goal = \"look\"\n[allow]\nworkers = [\"noop\"]\n").unwrap();
    let submitted = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", intent.to_str().unwrap()]),
    );
    let process = serde_json::from_str::<Value>(&submitted).unwrap()["process"]
        .as_u64()
        .unwrap();
    wait_for_process(&sandbox, process, "done");
    let log = daemon.terminate();
    let lines = json_lines(&log);
    let committed = lines
        .iter()
        .filter(|line| line["fields"]["message"] == "group committed")
        .find(|line| {
            let first = line["fields"]["first_seq"].as_u64().unwrap();
            let last = line["fields"]["last_seq"].as_u64().unwrap();
            (first..=last).contains(&process)
        })
        .unwrap_or_else(|| panic!("no commit of the submit (seq {process}):\n{log}"));
    assert!(
        committed["fields"]["records"].as_u64().unwrap() >= 1,
        "{committed}"
    );
    let decided: Vec<&str> = lines
        .iter()
        .filter(|line| {
            line["fields"]["message"] == "the scheduler decided"
                && line["fields"]["process"] == process
        })
        .map(|line| line["fields"]["decision"].as_str().unwrap())
        .collect();
    for decision in ["open_lane", "dispatch", "finish"] {
        assert!(decided.contains(&decision), "no {decision} in {decided:?}");
    }
}

// Goal: `--log-format text` writes lines for people even into a file. Method: the ready
// line of a daemon started so.
#[test]
fn text_when_asked_for() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start_with(&["--log-format", "text"]);
    let log = daemon.terminate();
    let ready = log
        .lines()
        .find(|line| line.contains("jitosd ready"))
        .unwrap_or_else(|| panic!("no ready line:\n{log}"));
    assert!(serde_json::from_str::<Value>(ready).is_err(), "{ready}");
    assert!(ready.contains("INFO"), "{ready}");
}
