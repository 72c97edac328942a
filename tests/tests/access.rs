//! Who may do what, through the real daemon and CLI, as a second real uid (`nobody`):
//! every kind of change is refused to a viewer with what was missing, an operator steers
//! only what is their own, an approver approves another's process, a user the access
//! file does not name cannot even connect, refusals reach the ledger counted rather than
//! one by one, a bad access file stops the start at its line, and the socket opens to
//! the file's group and no further.
#![allow(clippy::unwrap_used)]

use std::{
    fs,
    os::unix::fs::{MetadataExt, PermissionsExt},
    path::PathBuf,
    process::Output,
};

use jitos_system_tests::{
    assert_failure, assert_success, grant_nobody, jitos_as, misbehave_manifest, root_or_skip,
    stderr_text, wait_until, Daemon, Sandbox, NOBODY,
};

const WHY_ROOT: &str = "a second user's client is started with setuid";

/// A daemon serving `nobody` with `roles`.
fn start_granting(sandbox: &Sandbox, roles: &[&str]) -> Daemon {
    let flags = grant_nobody(sandbox, roles);
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    sandbox.start_with(&flags)
}

/// A file in the sandbox anyone may read.
fn file(sandbox: &Sandbox, name: &str, text: &str) -> PathBuf {
    let path = sandbox.path().join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    path
}

/// An intent for the built-in `approve_then_run`, which waits for a yes before it runs.
fn approval_intent(sandbox: &Sandbox, name: &str) -> PathBuf {
    file(
        sandbox,
        name,
        "goal = \"approve_then_run\"\n[params]\ncommand = \"true\"\n[allow]\nworkers = [\"shell\"]\n",
    )
}

fn process_id(output: &Output, what: &str) -> u64 {
    let text = assert_success(what, output);
    serde_json::from_str::<serde_json::Value>(&text).unwrap()["process"]
        .as_u64()
        .unwrap_or_else(|| panic!("{what} printed {text}"))
}

fn status_of(sandbox: &Sandbox, process: u64) -> String {
    let out = assert_success(
        "inspect",
        &sandbox.jitos(&["--json", "inspect", &process.to_string()]),
    );
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    shown["summary"]["status"].as_str().unwrap().to_owned()
}

fn wait_for(sandbox: &Sandbox, process: u64, status: &str) {
    wait_until(
        &format!("process {process} {status}"),
        std::time::Duration::from_secs(20),
        || status_of(sandbox, process) == status,
    );
}

/// Asserts `output` failed with a refusal whose message says `what` and `why`.
#[track_caller]
fn assert_refused(output: &Output, who: &str, what: &str, why: &str) {
    let stderr = assert_failure(what, output);
    let wanted = format!("user nobody ({who}) may not {what}: {why}");
    assert!(
        stderr.contains(&wanted),
        "wanted {wanted:?}, got {stderr:?}"
    );
}

// Goal: a viewer reads everything and changes nothing, each refusal naming the act and
// the role it needed; the same changes by root (admin) succeed. Method: a viewer runs
// every read and every kind of change through the CLI.
#[test]
fn a_viewer_reads_everything_and_each_change_is_refused_with_what_was_missing() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start_granting(&sandbox, &["viewer"]);
    let whoami = assert_success("whoami", &jitos_as(&sandbox, NOBODY, &["--json", "whoami"]));
    let whoami: serde_json::Value = serde_json::from_str(&whoami).unwrap();
    assert_eq!(whoami["uid"], NOBODY);
    assert_eq!(whoami["user"], "nobody");
    assert_eq!(whoami["roles"], serde_json::json!(["viewer"]));

    let rewrite = file(
        &sandbox,
        "rewrite.json",
        r#"{"ops":[{"add_node":{"id":"n:1","kind":"Note"}}]}"#,
    );
    let rewrite = rewrite.to_str().unwrap();
    let intent = approval_intent(&sandbox, "intent.toml");
    let intent = intent.to_str().unwrap();
    let manifest = misbehave_manifest(&sandbox, "misbehave", "effect_class = \"none\"");
    let manifest = manifest.to_str().unwrap();
    let sws = process_id(
        &sandbox.jitos(&["--json", "submit", intent]),
        "root submits",
    );
    wait_for(&sandbox, sws, "waiting");
    for read in [
        &["status"][..],
        &["log"],
        &["graph", "show"],
        &["ps", "--all"],
        &["inspect", &sws.to_string()],
        &["sws", "list"],
        &["job", "list", "--all"],
        &["worker", "list"],
        &["verify"],
        &["plan", intent],
    ] {
        assert_success(
            &format!("jitos {} as a viewer", read.join(" ")),
            &jitos_as(&sandbox, NOBODY, read),
        );
    }

    let operator = "operator role needed";
    let admin = "admin role needed";
    let refusals: [(&[&str], &str, &str); 10] = [
        (
            &["rewrite", "apply", rewrite],
            "rewrite the system graph",
            admin,
        ),
        (&["snapshot"], "take a snapshot", admin),
        (&["blob", "gc"], "collect unreferenced blobs", admin),
        (&["worker", "install", manifest], "install a worker", admin),
        (&["sws", "create"], "create a workspace", operator),
        (&["submit", intent], "submit a process", operator),
        (
            &["job", "run", "--sws", "1", "noop"],
            "run a noop job",
            operator,
        ),
        (
            &["approve", &sws.to_string()],
            &format!("approve process {sws}"),
            "approver role needed",
        ),
        (
            &["reject", &sws.to_string(), "--reason", "no"],
            &format!("reject process {sws}"),
            "approver role needed",
        ),
        (
            &["cancel", &sws.to_string()],
            &format!("cancel process {sws}"),
            operator,
        ),
    ];
    for (args, what, why) in refusals {
        assert_refused(&jitos_as(&sandbox, NOBODY, args), "viewer", what, why);
    }
    assert_eq!(status_of(&sandbox, sws), "waiting", "a refusal changed it");

    // The positive control: the daemon's own user is admin.
    assert_success(
        "root rewrites",
        &sandbox.jitos(&["rewrite", "apply", rewrite]),
    );
    assert_success("root snapshots", &sandbox.jitos(&["snapshot"]));
    assert_success(
        "root cancels",
        &sandbox.jitos(&["cancel", &sws.to_string()]),
    );
}

// Goal: an operator cancels their own process but not another's, and may not approve;
// an approver approves another's process. Method: root's process and nobody's wait for a
// yes; nobody (operator) tries both; a second daemon makes nobody an approver.
#[test]
fn an_operator_steers_only_their_own_and_an_approver_approves() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start_granting(&sandbox, &["operator"]);
    let intent = approval_intent(&sandbox, "intent.toml");
    let intent = intent.to_str().unwrap();
    let by_root = process_id(
        &sandbox.jitos(&["--json", "submit", intent]),
        "root submits",
    );
    let by_nobody = process_id(
        &jitos_as(&sandbox, NOBODY, &["--json", "submit", intent]),
        "nobody submits",
    );
    wait_for(&sandbox, by_root, "waiting");
    wait_for(&sandbox, by_nobody, "waiting");

    assert_refused(
        &jitos_as(&sandbox, NOBODY, &["cancel", &by_root.to_string()]),
        "operator",
        &format!("cancel process {by_root}"),
        "it belongs to uid 0; only its owner or an admin may",
    );
    assert_refused(
        &jitos_as(
            &sandbox,
            NOBODY,
            &["resume", "--value", "\"retry\"", &by_root.to_string()],
        ),
        "operator",
        &format!("answer process {by_root}"),
        "it belongs to uid 0",
    );
    assert_refused(
        &jitos_as(&sandbox, NOBODY, &["approve", &by_nobody.to_string()]),
        "operator",
        &format!("approve process {by_nobody}"),
        "approver role needed",
    );
    assert_success(
        "nobody cancels their own",
        &jitos_as(&sandbox, NOBODY, &["cancel", &by_nobody.to_string()]),
    );
    assert_eq!(status_of(&sandbox, by_nobody), "cancelled");
    assert_eq!(status_of(&sandbox, by_root), "waiting");
    daemon.terminate();

    let _daemon = start_granting(&sandbox, &["approver"]);
    assert_success(
        "an approver approves root's process",
        &jitos_as(&sandbox, NOBODY, &["approve", &by_root.to_string()]),
    );
    wait_for(&sandbox, by_root, "done");
}

// Goal: a user the access file does not name cannot connect, and is told why. Method: uid
// 1 (in the socket's group, so the socket itself lets it in) says hello.
#[test]
fn a_user_the_file_does_not_name_is_refused_at_the_handshake() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start_granting(&sandbox, &["viewer"]);
    let stderr = assert_failure("uid 1 asks", &jitos_as(&sandbox, 1, &["status"]));
    assert!(
        stderr.contains("(uid 1) may not use this jitosd")
            && stderr.contains("grants them no role"),
        "{stderr}"
    );
}

/// The `access.refused` records of `uid`, as (count, summary), from the store on disk.
fn refusals_recorded(sandbox: &Sandbox, uid: u32) -> Vec<(u64, String)> {
    let out = assert_success(
        "log",
        &sandbox.jitos(&["--json", "log", "--limit", "10000"]),
    );
    let records: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    records
        .iter()
        .filter(|r| r["kind"] == "access.refused" && r["actor"]["Peer"]["uid"] == uid)
        .map(|r| {
            let summary = r["summary"].as_str().unwrap().to_owned();
            let count = match summary.strip_prefix("refused ") {
                Some(rest) if rest.contains(" times, the first: ") => {
                    rest.split(' ').next().unwrap().parse().unwrap()
                }
                _ => 1,
            };
            (count, summary)
        })
        .collect()
}

// Goal: every refusal is accounted for in the ledger, yet a flood of them adds a bounded
// number of records. Method: 30 refused rewrites by one user within a minute, then a clean
// stop; its records must be at most two and count 30.
#[test]
fn refusals_are_recorded_counted_not_one_by_one() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start_granting(&sandbox, &["viewer"]);
    let rewrite = file(
        &sandbox,
        "rewrite.json",
        r#"{"ops":[{"add_node":{"id":"n:1","kind":"Note"}}]}"#,
    );
    const REFUSED: u64 = 30;
    for _ in 0..REFUSED {
        assert_failure(
            "a refused rewrite",
            &jitos_as(
                &sandbox,
                NOBODY,
                &["rewrite", "apply", rewrite.to_str().unwrap()],
            ),
        );
    }
    daemon.terminate();
    let recorded = refusals_recorded(&sandbox, NOBODY);
    assert!(
        (1..=2).contains(&recorded.len()),
        "{} records for {REFUSED} refusals: {recorded:?}",
        recorded.len()
    );
    assert_eq!(
        recorded.iter().map(|(count, _)| count).sum::<u64>(),
        REFUSED,
        "{recorded:?}"
    );
    assert!(
        recorded[0]
            .1
            .contains("user nobody (viewer) may not rewrite the system graph"),
        "{recorded:?}"
    );
    assert_success("verify", &sandbox.jitos(&["verify"]));
}

// Goal: a bad access file stops the start and says where. Method: an unknown role, and
// roles granted with no socket group.
#[test]
fn a_bad_access_file_stops_the_start_at_its_line() {
    let sandbox = Sandbox::new();
    for (text, wanted) in [
        (
            "[socket]\ngroup = \"root\"\n\n[users]\nroot = [\"opertor\"]\n",
            "access.toml:5:9: unknown role \"opertor\"",
        ),
        ("[users]\nroot = [\"viewer\"]\n", "names no [socket] group"),
    ] {
        let path = file(&sandbox, "access.toml", text);
        let output = sandbox.jitosd_until_exit(&["--access", path.to_str().unwrap()]);
        assert!(!output.status.success(), "jitosd started with {text:?}");
        let stderr = stderr_text(&output);
        assert!(
            stderr.contains("the access file does not load") && stderr.contains(wanted),
            "wanted {wanted:?}: {stderr}"
        );
    }
}

// Goal: the socket is the daemon's alone without a socket group, and opened to exactly
// that group with one. Method: the modes and groups of the socket and its directory.
#[test]
fn the_socket_opens_to_the_files_group_and_no_further() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let socket = fs::metadata(sandbox.socket()).unwrap();
    let dir = fs::metadata(sandbox.socket().parent().unwrap()).unwrap();
    assert_eq!((socket.mode() & 0o777, dir.mode() & 0o777), (0o600, 0o700));
    daemon.terminate();

    let gid = nix::unistd::getgid();
    let group = nix::unistd::Group::from_gid(gid).unwrap().unwrap().name;
    let me = nix::unistd::User::from_uid(nix::unistd::getuid())
        .unwrap()
        .unwrap()
        .name;
    let shared = Sandbox::new();
    let access = file(
        &shared,
        "access.toml",
        &format!("[socket]\ngroup = {group:?}\n\n[users]\n{me:?} = [\"viewer\"]\n"),
    );
    let _daemon = shared.start_with(&["--access", access.to_str().unwrap()]);
    let socket = fs::metadata(shared.socket()).unwrap();
    let dir = fs::metadata(shared.socket().parent().unwrap()).unwrap();
    assert_eq!((socket.mode() & 0o777, socket.gid()), (0o660, gid.as_raw()));
    assert_eq!((dir.mode() & 0o777, dir.gid()), (0o710, gid.as_raw()));
}

// Goal: an operator may not cancel a job another user runs, and is told whose it is; its
// owner may. Method: root runs a job that sleeps; nobody (operator) tries to cancel it.
#[test]
fn an_operator_may_not_cancel_anothers_job() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start_granting(&sandbox, &["operator"]);
    let out = assert_success(
        "a detached job",
        &sandbox.jitos(&[
            "--json",
            "job",
            "run",
            "shell",
            "--new-sws",
            "--detach",
            "--",
            "sleep",
            "30",
        ]),
    );
    let attempt = serde_json::from_str::<serde_json::Value>(&out).unwrap()["attempt"]
        .as_u64()
        .unwrap_or_else(|| panic!("job run printed {out}"))
        .to_string();
    assert_refused(
        &jitos_as(&sandbox, NOBODY, &["job", "cancel", &attempt]),
        "operator",
        &format!("cancel job {attempt}"),
        "it belongs to uid 0; only its owner or an admin may",
    );
    assert_success(
        "its owner cancels it",
        &sandbox.jitos(&["job", "cancel", &attempt]),
    );
}
