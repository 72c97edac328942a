//! Approvals through the real daemon and CLI, by real second users: a step that needs two
//! approvals of three approvers takes one vote per principal, survives a restart between
//! them and goes on at the second; the submitter may not approve their own process; one
//! rejection vetoes; `ps --waiting-for-me` lists what a user may still approve.
//!
//! The approvers are uids 60001 to 60003, which the user database does not know: the access
//! file grants `approver` to the group `nogroup`, which their clients run as.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf};

use jitos_system_tests::{
    assert_failure, assert_success, jitos_as, process_summary, root_or_skip, stdout_text,
    wait_for_process, Daemon, Sandbox,
};

const WHY_ROOT: &str = "the approvers' clients are started with setuid";

/// Three approvers with no entry in the user database.
const APPROVERS: [u32; 3] = [60001, 60002, 60003];

/// Two approvals from approvers for every yes/no step.
const TWO_OF_THREE: &str = r#"
default = "allow"

[[rule]]
name = "two approvers for every yes/no step"
at = "gate"
decide = { require = 2, from = "approver" }
"#;

/// A daemon whose access file makes everyone in `nogroup` an approver, ruling by `policy`.
fn start(sandbox: &Sandbox, policy: &str) -> Daemon {
    let access = sandbox.path().join("access.toml");
    fs::write(
        &access,
        "[socket]\ngroup = \"nogroup\"\n\n[groups]\nnogroup = [\"approver\"]\n",
    )
    .unwrap();
    let policy_path = sandbox.path().join("policy.toml");
    fs::write(&policy_path, policy).unwrap();
    fs::set_permissions(sandbox.path(), fs::Permissions::from_mode(0o711)).unwrap();
    sandbox.start_with(&[
        "--access",
        access.to_str().unwrap(),
        "--policy",
        policy_path.to_str().unwrap(),
    ])
}

/// Submits `approve_then_run` as root; its id.
fn submit(sandbox: &Sandbox) -> u64 {
    let path: PathBuf = sandbox.path().join("approve.toml");
    fs::write(
        &path,
        "goal = \"approve_then_run\"\n[params]\ncommand = \"true\"\n[allow]\nworkers = [\"shell\"]\n",
    )
    .unwrap();
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", path.to_str().unwrap()]),
    );
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["process"]
        .as_u64()
        .unwrap()
}

fn approve_as(sandbox: &Sandbox, uid: u32, process: u64) -> std::process::Output {
    jitos_as(sandbox, uid, &["approve", &process.to_string()])
}

/// What `ps --waiting-for-me` lists for `uid`.
fn waiting_for(sandbox: &Sandbox, uid: u32) -> Vec<u64> {
    let out = jitos_as(sandbox, uid, &["--json", "ps", "--waiting-for-me"]);
    let listed: serde_json::Value = serde_json::from_str(&stdout_text(&out)).unwrap();
    listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_u64().unwrap())
        .collect()
}

// Goal: two of three: each principal counts once, the submitter may not approve, the
// approvals survive a restart, and the second approval lets the process go on; every
// vote and the ruling are in the process's log, and the ledger replays.
#[test]
fn two_of_three_approvers_each_counted_once_across_a_restart() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, TWO_OF_THREE);
    let process = submit(&sandbox);
    let waiting = wait_for_process(&sandbox, process, "waiting");
    assert!(
        waiting["detail"].as_str().unwrap().contains("Run `true`"),
        "{waiting}"
    );
    assert_eq!(waiting_for(&sandbox, APPROVERS[0]), vec![process]);

    assert_success(
        "the first approval",
        &approve_as(&sandbox, APPROVERS[0], process),
    );
    let again = assert_failure(
        "the same approver again",
        &approve_as(&sandbox, APPROVERS[0], process),
    );
    assert!(again.contains("has already approved"), "{again}");
    let own = assert_failure(
        "the submitter",
        &sandbox.jitos(&["approve", &process.to_string()]),
    );
    assert!(own.contains("may not approve or reject it"), "{own}");
    assert_eq!(process_summary(&sandbox, process)["status"], "waiting");
    assert!(
        waiting_for(&sandbox, APPROVERS[0]).is_empty(),
        "one who approved is not asked again"
    );
    daemon.terminate();

    let daemon = start(&sandbox, TWO_OF_THREE);
    assert_eq!(process_summary(&sandbox, process)["status"], "waiting");
    assert_eq!(waiting_for(&sandbox, APPROVERS[1]), vec![process]);
    assert_success(
        "the second approval",
        &jitos_as(
            &sandbox,
            APPROVERS[1],
            &["approve", &process.to_string(), "--comment", "looks right"],
        ),
    );
    wait_for_process(&sandbox, process, "done");

    let log = assert_success(
        "log",
        &sandbox.jitos(&["log", "--process", &process.to_string()]),
    );
    assert_eq!(log.matches("process.vote").count(), 2, "{log}");
    assert!(
        log.contains("uid 60002 approved") && log.contains("looks right"),
        "{log}"
    );
    assert!(
        log.contains("policy.decision") && log.contains("require 2 approvals from approver"),
        "{log}"
    );
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}

// Goal: one rejection vetoes, whatever approvals came before it, and its reason is kept.
#[test]
fn one_rejection_vetoes() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox, TWO_OF_THREE);
    let process = submit(&sandbox);
    wait_for_process(&sandbox, process, "waiting");
    assert_success("an approval", &approve_as(&sandbox, APPROVERS[0], process));
    let out = jitos_as(&sandbox, APPROVERS[2], &["reject", &process.to_string()]);
    let stderr = assert_failure("a rejection without a reason", &out);
    assert!(stderr.contains("--reason"), "{stderr}");
    assert_success(
        "a rejection",
        &jitos_as(
            &sandbox,
            APPROVERS[2],
            &[
                "reject",
                &process.to_string(),
                "--reason",
                "too risky today",
            ],
        ),
    );
    let ended = wait_for_process(&sandbox, process, "failed");
    let why = ended["detail"].as_str().unwrap();
    assert!(
        why.contains("uid 60003 rejected it: too risky today"),
        "{why}"
    );
    let late = assert_failure(
        "an approval after the veto",
        &approve_as(&sandbox, APPROVERS[1], process),
    );
    assert!(late.contains("does not wait for approvals"), "{late}");
}
