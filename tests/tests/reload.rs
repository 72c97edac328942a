//! Reloading a running daemon (`SIGHUP`, as `systemctl reload jitosd` sends it): a second
//! real user's roles change without a restart, a new policy is recorded and rules, a file
//! that does not load changes nothing, and the daemon that reloaded is the one that
//! started.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf, time::Duration};

use jitos_system_tests::{
    all_records, assert_failure, assert_success, grant_nobody, jitos_as, root_or_skip, wait_until,
    Daemon, Sandbox, NOBODY,
};
use nix::{
    sys::signal::{kill, Signal},
    unistd::Pid,
};
use serde_json::{json, Value};

/// Everything allowed.
const ALLOW_ALL: &str = "default = \"allow\"\n";

/// Noop jobs denied, the rest allowed.
const NO_NOOP: &str = r#"
default = "allow"

[[rule]]
name = "no noop"
at = "dispatch"
when = { worker = "noop" }
decide = "deny"
"#;

fn write(path: &PathBuf, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o644)).unwrap();
}

fn hang_up(daemon: &Daemon) {
    kill(Pid::from_raw(daemon.pid() as i32), Signal::SIGHUP).unwrap();
}

/// The roles `nobody` is greeted with, or `None` when refused.
fn roles_of_nobody(sandbox: &Sandbox) -> Option<Value> {
    let out = jitos_as(sandbox, NOBODY, &["--json", "whoami"]);
    out.status
        .success()
        .then(|| serde_json::from_slice::<Value>(&out.stdout).unwrap()["roles"].clone())
}

fn policy_loads(daemon: &Daemon) -> usize {
    all_records(&mut daemon.client())
        .iter()
        .filter(|r| r.kind == "policy.load")
        .count()
}

// Goal: an operator changes who may do what on a running daemon, and a mistake in either
// file changes nothing, not even in the other. Method: grant `nobody` viewer, grant
// operator in the file and send SIGHUP, and wait for nobody's next connection to be an
// operator's; then write a good access file (approver) beside a policy that does not load,
// send SIGHUP, and find the error in the log, nobody still an operator and no policy
// recorded; then an access file that does not load, likewise; the daemon that started is
// the one that answers throughout.
#[test]
fn a_reload_changes_a_users_roles_and_a_bad_file_changes_nothing() {
    if !root_or_skip("a second user's client is started with setuid") {
        return;
    }
    let sandbox = Sandbox::new();
    let mut flags = grant_nobody(&sandbox, &["viewer"]);
    let access = PathBuf::from(&flags[1]);
    let policy = sandbox.path().join("policy.toml");
    write(&policy, ALLOW_ALL);
    flags.extend(["--policy".to_owned(), policy.display().to_string()]);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut daemon = sandbox.start_with(&flags);
    assert_eq!(policy_loads(&daemon), 1);
    assert_eq!(roles_of_nobody(&sandbox), Some(json!(["viewer"])));
    let refused = jitos_as(&sandbox, NOBODY, &["sws", "create"]);
    assert_failure("a viewer makes a workspace", &refused);

    write(
        &access,
        "[socket]\ngroup = \"nogroup\"\n\n[users]\nnobody = [\"operator\"]\n",
    );
    hang_up(&daemon);
    wait_until("nobody is an operator", Duration::from_secs(20), || {
        roles_of_nobody(&sandbox) == Some(json!(["operator"]))
    });
    assert_success(
        "an operator makes a workspace",
        &jitos_as(&sandbox, NOBODY, &["sws", "create"]),
    );

    let failed = |daemon: &Daemon, count: usize| {
        wait_until(
            "the log says the reload failed",
            Duration::from_secs(20),
            || {
                daemon
                    .stderr()
                    .matches("the reload changed nothing")
                    .count()
                    == count
            },
        );
    };
    write(
        &access,
        "[socket]\ngroup = \"nogroup\"\n\n[users]\nnobody = [\"approver\"]\n",
    );
    write(&policy, "default = \"maybe\"\n");
    hang_up(&daemon);
    failed(&daemon, 1);
    let log = daemon.stderr();
    assert!(log.contains("the policy does not load"), "{log}");
    assert_eq!(roles_of_nobody(&sandbox), Some(json!(["operator"])));
    assert_eq!(policy_loads(&daemon), 1);

    write(&policy, ALLOW_ALL);
    write(&access, "[users]\nnobody = [\"boss\"]\n");
    hang_up(&daemon);
    failed(&daemon, 2);
    let log = daemon.stderr();
    assert!(log.contains("the access file does not load"), "{log}");
    assert_eq!(roles_of_nobody(&sandbox), Some(json!(["operator"])));
    assert!(daemon.is_running(), "the daemon that reloaded is gone");
    daemon.terminate();
}

// Goal: a new policy put in force by a reload is recorded once and rules the next job, and
// one that does not load leaves the one in force. Method: start allowing everything; write
// a policy that denies noop jobs and send SIGHUP; wait for its `policy.load` record and see
// a noop job denied; send SIGHUP again with nothing changed (no new record); then write a
// policy that does not parse, send SIGHUP, and see the log's error, no new record, and noop
// still denied.
#[test]
fn a_reload_records_a_new_policy_once_and_a_bad_one_changes_nothing() {
    let sandbox = Sandbox::new();
    let policy = sandbox.path().join("policy.toml");
    write(&policy, ALLOW_ALL);
    let daemon = sandbox.start_with(&["--policy", policy.to_str().unwrap()]);
    assert_eq!(policy_loads(&daemon), 1);
    let noop = || sandbox.jitos(&["job", "run", "noop", "--new-sws"]);
    assert_success("noop, allowed", &noop());

    write(&policy, NO_NOOP);
    hang_up(&daemon);
    wait_until(
        "the new policy is recorded",
        Duration::from_secs(20),
        || policy_loads(&daemon) == 2,
    );
    let denied = assert_failure("noop, denied", &noop());
    assert!(denied.contains("no noop"), "{denied}");

    hang_up(&daemon);
    wait_until(
        "the second reload is logged",
        Duration::from_secs(20),
        || {
            daemon
                .stderr()
                .matches("reloaded the access file and the policy")
                .count()
                == 2
        },
    );
    assert_eq!(policy_loads(&daemon), 2, "the same policy again");

    write(&policy, "default = \"maybe\"\n");
    hang_up(&daemon);
    wait_until(
        "the log says the reload failed",
        Duration::from_secs(20),
        || daemon.stderr().contains("the reload changed nothing"),
    );
    assert!(
        daemon.stderr().contains("the policy does not load"),
        "{}",
        daemon.stderr()
    );
    assert_eq!(policy_loads(&daemon), 2);
    assert_failure("noop, still denied", &noop());
    daemon.terminate();
}
