//! The policy at the collapse point through the real daemon and CLI: a collapse the policy
//! holds waits (exit 3) until another user holding the role approves it, and that
//! approval lands it; a denied collapse never reaches the system and is not ruled on
//! twice; a rejection vetoes it; a workspace changed after its ruling is ruled on again
//! and old approvals do not count; the one who asked may not approve.
//!
//! Root runs the daemon and is its `admin`; `nobody` (uid 65534) is granted `approver` by
//! the access file and runs its CLI with setuid.
#![allow(clippy::unwrap_used)]

use std::{fs, os::unix::fs::PermissionsExt, path::PathBuf, process::Output};

use jitos_proto::{ActorView, RecordView};
use jitos_system_tests::{
    all_records, assert_failure, assert_success, grant_nobody, jitos_as, root_or_skip, stdout_text,
    Daemon, Sandbox, NOBODY,
};
use serde_json::Value;

const WHY_ROOT: &str = "the approver's client runs as nobody, started with setuid";

/// The exit status of a collapse held for approvals (`EXIT_HELD` in `sws_cmd.rs`).
const EXIT_HELD: i32 = 3;

/// Changes under `src` need one approval from an approver.
const SRC_NEEDS_APPROVAL: &str = r#"
default = "allow"

[[rule]]
name = "sources need a reviewer"
at = "collapse"
when = { path = "src" }
decide = { require = 1, from = "approver" }
"#;

/// Root may not collapse anything.
const ROOT_DENIED: &str = r#"
default = "allow"

[[rule]]
name = "no collapses by root"
at = "collapse"
when = { user = "root" }
decide = "deny"
"#;

/// A daemon under `SRC_NEEDS_APPROVAL`, and a workspace writing `src/x` (`content`)
/// whose collapse root asked for and the policy holds (`what` names it in a failure).
fn held_collapse(sandbox: &Sandbox, content: &str, what: &str) -> (Daemon, u64) {
    let daemon = start(sandbox, SRC_NEEDS_APPROVAL);
    let sws = create(sandbox);
    put_files(sandbox, sws, &[("src/x", content)]);
    assert_held(what, &collapse(sandbox, sws));
    (daemon, sws)
}

/// A daemon ruling by `policy`, with `nobody` an approver; the system holds `README`.
fn start(sandbox: &Sandbox, policy: &str) -> Daemon {
    let policy_path = sandbox.path().join("policy.toml");
    fs::write(&policy_path, policy).unwrap();
    fs::set_permissions(&policy_path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut flags = grant_nobody(sandbox, &["approver"]);
    flags.push("--policy".to_owned());
    flags.push(policy_path.display().to_string());
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let daemon = sandbox.start_with(&flags);
    let project = project_dir(sandbox, "system", &[]);
    sandbox.jitos_ok(&["tree", "import", project.to_str().unwrap()]);
    daemon
}

/// A directory named `name` in the sandbox holding `README` and `files` (path, content).
fn project_dir(sandbox: &Sandbox, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = sandbox.path().join(name);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("README"), "a project\n").unwrap();
    for (path, content) in files {
        let path = dir.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir
}

/// A new workspace over the system, as root; its id.
fn create(sandbox: &Sandbox) -> u64 {
    sandbox.jitos_json(&["sws", "create"])["sws"]
        .as_u64()
        .unwrap()
}

/// Makes workspace `sws`'s files `README` and `files`, as root.
fn put_files(sandbox: &Sandbox, sws: u64, files: &[(&str, &str)]) {
    let dir = project_dir(sandbox, &format!("sws-{sws}-{}", files.len()), files);
    sandbox.jitos_ok(&[
        "tree",
        "import",
        dir.to_str().unwrap(),
        "--sws",
        &sws.to_string(),
    ]);
}

/// The content of `path` in the system's tree now, if it holds the file.
fn system_file(sandbox: &Sandbox, path: &str) -> Option<String> {
    let n = fs::read_dir(sandbox.path()).unwrap().count();
    let out = sandbox.path().join(format!("checkout-{n}"));
    sandbox.jitos_ok(&["tree", "checkout", out.to_str().unwrap()]);
    assert!(out.join("README").exists(), "the checkout holds the system");
    fs::read_to_string(out.join(path)).ok()
}

fn collapse(sandbox: &Sandbox, sws: u64) -> Output {
    sandbox.jitos(&["sws", "collapse", &sws.to_string()])
}

fn approve_as_nobody(sandbox: &Sandbox, sws: u64) -> Output {
    jitos_as(
        sandbox,
        NOBODY,
        &["sws", "approve", &sws.to_string(), "--comment", "ok"],
    )
}

/// Asserts `output` exited with the held status and returns its standard output.
#[track_caller]
fn assert_held(what: &str, output: &Output) -> String {
    assert_eq!(
        output.status.code(),
        Some(EXIT_HELD),
        "{what} should be held (exit {EXIT_HELD})\nstdout:\n{}\nstderr:\n{}",
        stdout_text(output),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout_text(output)
}

/// Asserts `output` exited 1 and returns its standard output and error joined.
#[track_caller]
fn assert_exit_1(what: &str, output: &Output) -> String {
    let text = assert_failure(what, output);
    assert_eq!(output.status.code(), Some(1), "{what}: {text}");
    text
}

fn records(daemon: &Daemon) -> Vec<RecordView> {
    all_records(&mut daemon.client())
}

fn of_kind<'a>(records: &'a [RecordView], kind: &str) -> Vec<&'a RecordView> {
    records.iter().filter(|r| r.kind == kind).collect()
}

fn uid_of(record: &RecordView) -> Option<u32> {
    match record.actor {
        ActorView::Peer { uid, .. } => Some(uid),
        _ => None,
    }
}

// Goal: a held collapse waits, visibly, and the approval of another user holding the role
// lands it without the requester asking again. Method: root's workspace writes src/x; its
// collapse exits 3 saying what it waits for, `sws show` shows the hold, the system lacks
// the file; nobody approves and that lands it; the log holds the ruling, the vote (by
// nobody) and the collapse in that order; the ledger verifies and replays.
#[test]
fn a_held_collapse_lands_with_another_users_approval() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, SRC_NEEDS_APPROVAL);
    let sws = create(&sandbox);
    let id = sws.to_string();
    put_files(&sandbox, sws, &[("src/x", "fixed\n")]);

    let out = assert_held("the collapse", &collapse(&sandbox, sws));
    assert!(
        out.contains("require 1 approval from approver (rule 1 \"sources need a reviewer\")"),
        "{out}"
    );
    assert!(
        out.contains("waiting for approvals: 0 of 1 from approver")
            && out.contains(&format!("`jitos sws approve {id}`")),
        "{out}"
    );
    let shown = sandbox.jitos_ok(&["sws", "show", &id]);
    assert!(
        shown.contains("collapse ruled at seq")
            && shown.contains("waiting for approvals: 0 of 1 from approver"),
        "{shown}"
    );
    assert_eq!(system_file(&sandbox, "src/x"), None, "held, not landed");
    // Asking again while it waits records nothing new and still waits.
    let before = records(&daemon).len();
    assert_held("the collapse again", &collapse(&sandbox, sws));
    assert_eq!(records(&daemon).len(), before, "a second ask recorded");

    let approved = assert_success("nobody's approval", &approve_as_nobody(&sandbox, sws));
    assert!(
        approved.contains(&format!("approved and collapsed workspace {id}")),
        "{approved}"
    );
    assert_eq!(system_file(&sandbox, "src/x").as_deref(), Some("fixed\n"));
    let shown = sandbox.jitos_ok(&["sws", "show", &id]);
    assert!(shown.contains("(collapsed at"), "{shown}");

    let all = records(&daemon);
    let governed: Vec<&RecordView> = all
        .iter()
        .filter(|r| r.kind.starts_with("sws.") && r.kind != "sws.create" && r.kind != "sws.apply")
        .collect();
    let kinds: Vec<&str> = governed.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        ["sws.ruling", "sws.vote", "sws.collapse"],
        "{governed:?}"
    );
    assert_eq!(
        uid_of(governed[0]),
        Some(0),
        "root asked: {:?}",
        governed[0]
    );
    assert_eq!(
        uid_of(governed[1]),
        Some(NOBODY),
        "nobody voted: {:?}",
        governed[1]
    );
    assert!(
        governed[1]
            .summary
            .contains("nobody approved its collapse: ok"),
        "{:?}",
        governed[1]
    );
    assert_eq!(
        uid_of(governed[2]),
        Some(NOBODY),
        "the vote carried the collapse"
    );
    let log = sandbox.jitos_ok(&["log"]);
    let at = |kind: &str| {
        log.find(kind)
            .unwrap_or_else(|| panic!("no {kind} in {log}"))
    };
    assert!(at("sws.ruling") < at("sws.vote") && at("sws.vote") < at("sws.collapse"));
    assert!(log.contains("uid 65534"), "{log}");

    assert_success("verify", &sandbox.jitos(&["verify"]));
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
    daemon.terminate();
}

// Goal: a denied collapse applies nothing, says which rule denied it, and the same
// changes asked again are refused without a second ruling. Method: a deny rule for root.
#[test]
fn a_denied_collapse_names_its_rule_and_is_not_ruled_on_twice() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, ROOT_DENIED);
    let sws = create(&sandbox);
    put_files(&sandbox, sws, &[("src/x", "fixed\n")]);

    let out = assert_exit_1("the denied collapse", &collapse(&sandbox, sws));
    assert!(
        out.contains(&format!(
            "the policy denies the collapse of workspace {sws}"
        )) && out.contains("no collapses by root"),
        "{out}"
    );
    assert_eq!(system_file(&sandbox, "src/x"), None);
    let rulings = of_kind(&records(&daemon), "sws.ruling").len();
    assert_eq!(rulings, 1);

    let again = assert_exit_1("the same collapse again", &collapse(&sandbox, sws));
    assert!(again.contains("no collapses by root"), "{again}");
    let all = records(&daemon);
    assert_eq!(of_kind(&all, "sws.ruling").len(), 1, "ruled on twice");
    assert!(of_kind(&all, "sws.collapse").is_empty());
    assert_eq!(system_file(&sandbox, "src/x"), None);
    // A denial waits for no vote.
    let vote = assert_failure("a vote on a denial", &approve_as_nobody(&sandbox, sws));
    assert!(vote.contains("no collapse of workspace"), "{vote}");
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
}

// Goal: one rejection vetoes: the requester's next collapse is refused naming who
// rejected it and why, and nothing lands. Method: nobody rejects with a reason.
#[test]
fn a_rejection_vetoes_the_collapse_with_its_reason() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let (daemon, sws) = held_collapse(&sandbox, "risky\n", "the collapse");
    let id = sws.to_string();

    let missing = assert_failure(
        "a rejection without a reason",
        &jitos_as(&sandbox, NOBODY, &["sws", "reject", &id]),
    );
    assert!(missing.contains("--reason"), "{missing}");
    let rejected = jitos_as(
        &sandbox,
        NOBODY,
        &["sws", "reject", &id, "--reason", "too risky today"],
    );
    // The voter's exit status is `a_recorded_rejection_exits_zero`'s.
    let votes = of_kind(&records(&daemon), "sws.vote")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(votes.len(), 1, "{}", stdout_text(&rejected));
    assert_eq!(uid_of(&votes[0]), Some(NOBODY));
    assert!(
        votes[0]
            .summary
            .contains("nobody rejected its collapse: too risky today"),
        "{:?}",
        votes[0]
    );

    let refused = assert_exit_1("the collapse after the veto", &collapse(&sandbox, sws));
    assert!(
        refused.contains(&format!(
            "nobody rejected the collapse of workspace {id}: too risky today"
        )),
        "{refused}"
    );
    assert_eq!(system_file(&sandbox, "src/x"), None);
    assert!(of_kind(&records(&daemon), "sws.collapse").is_empty());
    let shown = sandbox.jitos_ok(&["sws", "show", &id]);
    assert!(
        shown.contains("rejected by nobody: too risky today"),
        "{shown}"
    );
}

// Goal: the voter's own command says their rejection was recorded: it exits 0, as
// `jitos reject` does for a process. Method: nobody rejects a held collapse.
#[test]
fn a_recorded_rejection_exits_zero() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let (daemon, sws) = held_collapse(&sandbox, "risky\n", "the collapse");
    let out = assert_success(
        "the rejection",
        &jitos_as(
            &sandbox,
            NOBODY,
            &["sws", "reject", &sws.to_string(), "--reason", "no"],
        ),
    );
    assert!(out.contains("rejected by nobody: no"), "{out}");
    assert_eq!(of_kind(&records(&daemon), "sws.vote").len(), 1);
}

// Goal: a ruling stands for the changes it was made on. Method: root's collapse is held;
// root adds a file; nobody's approval is refused as being for other changes; root asks
// again (a new ruling); nobody approves; both files land.
#[test]
fn a_workspace_changed_after_its_ruling_is_ruled_on_again() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let (daemon, sws) = held_collapse(&sandbox, "first\n", "the first collapse");
    let id = sws.to_string();
    let first_ruling = of_kind(&records(&daemon), "sws.ruling")[0].seq;

    put_files(
        &sandbox,
        sws,
        &[("src/x", "first\n"), ("src/y", "second\n")],
    );
    let shown = sandbox.jitos_ok(&["sws", "show", &id]);
    assert!(
        shown.contains("the workspace or the policy changed since"),
        "{shown}"
    );
    let stale = assert_failure(
        "an approval of old changes",
        &approve_as_nobody(&sandbox, sws),
    );
    assert!(
        stale.contains(&format!(
            "workspace {id} changed since its collapse was ruled on"
        )),
        "{stale}"
    );
    assert!(of_kind(&records(&daemon), "sws.vote").is_empty());
    assert_eq!(system_file(&sandbox, "src/x"), None);

    let out = assert_held("the collapse asked again", &collapse(&sandbox, sws));
    let rulings = of_kind(&records(&daemon), "sws.ruling")
        .iter()
        .map(|r| r.seq)
        .collect::<Vec<_>>();
    assert_eq!(rulings.len(), 2, "{rulings:?}");
    assert!(rulings[1] > first_ruling);
    assert!(
        out.contains(&format!("collapse ruled at seq {}", rulings[1])),
        "{out}"
    );
    assert_success("the approval", &approve_as_nobody(&sandbox, sws));
    assert_eq!(system_file(&sandbox, "src/x").as_deref(), Some("first\n"));
    assert_eq!(system_file(&sandbox, "src/y").as_deref(), Some("second\n"));
    assert_success("replay", &sandbox.jitos(&["replay", "--verify"]));
}

// Goal: a held collapse's JSON says where it stands. Method: `--json sws collapse`.
#[test]
fn a_held_collapse_in_json_says_it_waits() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox, SRC_NEEDS_APPROVAL);
    let sws = create(&sandbox);
    put_files(&sandbox, sws, &[("src/x", "fixed\n")]);
    let out = sandbox.jitos(&["--json", "sws", "collapse", &sws.to_string()]);
    let text = assert_held("the collapse", &out);
    let hold: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    assert_eq!(hold["sws"], sws, "{hold}");
    let waiting = &hold["standing"]["Waiting"];
    assert_eq!(waiting["count"], 1, "{hold}");
    assert_eq!(waiting["approvals"], 0, "{hold}");
    assert!(
        hold["paths"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "src/x"),
        "{hold}"
    );
    assert_eq!(hold["votes"], serde_json::json!([]), "{hold}");
}

// Goal: the one who asked for a collapse may not approve it, though root is an admin and
// so holds every role. Method: root approves its own held collapse.
#[test]
fn the_requester_may_not_approve_their_own_collapse() {
    if !root_or_skip(WHY_ROOT) {
        return;
    }
    let sandbox = Sandbox::new();
    let (daemon, sws) = held_collapse(&sandbox, "fixed\n", "the collapse");
    let id = sws.to_string();
    let own = assert_failure(
        "root's own approval",
        &sandbox.jitos(&["sws", "approve", &id]),
    );
    assert!(
        own.contains(&format!(
            "root asked for the collapse of workspace {id} and may not approve or reject it"
        )),
        "{own}"
    );
    assert!(of_kind(&records(&daemon), "sws.vote").is_empty());
    assert_eq!(system_file(&sandbox, "src/x"), None);
    let shown = sandbox.jitos_ok(&["sws", "show", &id]);
    assert!(shown.contains("0 of 1"), "{shown}");
}
