//! The CLI end to end against real daemons: every command's text and JSON output, time
//! travel, export and import, offline mode, the socket's permissions, a clean SIGTERM,
//! the demo, and `log --follow`.

use std::{
    io::{BufRead, BufReader},
    os::unix::fs::PermissionsExt,
    path::Path,
    process::Stdio,
    sync::mpsc,
    thread,
    time::{Duration, Instant},
};

use jitos_kernel::KIND_REWRITE;
use jitos_system_tests::{apply, assert_failure, assert_success, rewrite, status, Daemon, Sandbox};

/// Longest `log --follow` may take to print a record committed after it started.
const FOLLOW_WAIT: Duration = Duration::from_secs(10);

/// Three rewrites: n1 (seq 1); n2 and the edge n1 -dep-> n2 (seq 2); n1.state changed (seq 3).
const SEED: [&str; 3] = [
    r#"{"ops": [{"add_node": {"id": "n1", "kind": "Task", "attrs": {"state": "open"}}}]}"#,
    r#"{"ops": [{"add_node": {"id": "n2", "kind": "File"}}, {"add_edge": {"from": "n1", "to": "n2", "label": "dep"}}]}"#,
    r#"{"ops": [{"set_attr": {"node": "n1", "key": "state", "value": "done"}}]}"#,
];
/// The head after `SEED`.
const SEED_HEAD: u64 = 3;

/// A daemon on `sandbox` holding the `SEED` history.
fn seeded(sandbox: &Sandbox) -> Daemon {
    let daemon = sandbox.start();
    let mut client = daemon.client();
    for json in SEED {
        apply(&mut client, rewrite(json));
    }
    daemon
}

fn path_arg(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

// Goal: a rewrite is applied from a file and from standard input. Method: apply one each
// way and check the printed sequence numbers and the daemon's head.
#[test]
fn rewrite_apply_from_file_and_stdin() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let file = sandbox.path().join("rewrite.json");
    std::fs::write(&file, SEED[0]).unwrap_or_else(|e| panic!("cannot write the rewrite: {e}"));
    let out = sandbox.jitos_ok(&["rewrite", "apply", &path_arg(&file)]);
    assert!(out.contains("committed seq 1"), "{out}");
    let piped = sandbox.jitos_with_stdin(&["rewrite", "apply", "-"], SEED[1].as_bytes());
    let out = assert_success("jitos rewrite apply -", &piped);
    assert!(out.contains("committed seq 2"), "{out}");
    let info = status(&mut daemon.client());
    assert_eq!(
        (info.head_seq, info.nodes, info.edges),
        (2, 2, 1),
        "{info:?}"
    );
}

// Goal: `graph show` shows the head, an earlier state with --at, and one node with --node.
// Method: seed three rewrites and compare each view's text with what each state holds.
#[test]
fn graph_show_now_earlier_and_one_node() {
    let sandbox = Sandbox::new();
    let _daemon = seeded(&sandbox);
    let now = sandbox.jitos_ok(&["graph", "show"]);
    assert!(now.starts_with(&format!("at seq {SEED_HEAD} ")), "{now}");
    assert!(now.contains("2 nodes, 1 edges"), "{now}");
    assert!(now.contains(r#""state":"done""#), "{now}");
    assert!(now.contains("n1 -dep-> n2"), "{now}");

    let earlier = sandbox.jitos_ok(&["graph", "show", "--at", "1"]);
    assert!(earlier.starts_with("at seq 1 "), "{earlier}");
    assert!(earlier.contains("1 nodes, 0 edges"), "{earlier}");
    assert!(earlier.contains(r#""state":"open""#), "{earlier}");
    assert!(
        !earlier.contains("n2"),
        "n2 did not exist at seq 1:\n{earlier}"
    );

    let one = sandbox.jitos_ok(&["graph", "show", "--node", "n2"]);
    assert!(one.contains("1 nodes, 1 edges"), "{one}");
    assert!(one.contains("n2  [File]"), "{one}");
    assert!(!one.contains("n1  [Task]"), "--node n2 shows n1:\n{one}");

    let missing = assert_failure(
        "graph show --node ghost",
        &sandbox.jitos(&["graph", "show", "--node", "ghost"]),
    );
    assert!(missing.contains("no node \"ghost\""), "{missing}");
    let beyond = assert_failure(
        "graph show --at 99",
        &sandbox.jitos(&["graph", "show", "--at", "99"]),
    );
    assert!(beyond.contains("beyond the head"), "{beyond}");
}

// Goal: `history` lists every record that changed a node, with the node after each.
// Method: seed three rewrites, two of which touch n1 besides its creation, and read n1's
// and n2's histories.
#[test]
fn history_lists_each_change_of_a_node() {
    let sandbox = Sandbox::new();
    let _daemon = seeded(&sandbox);
    let text = sandbox.jitos_ok(&["history", "n1"]);
    assert_eq!(
        text.matches("after:").count(),
        3,
        "n1 changed in seqs 1, 2 and 3:\n{text}"
    );
    assert!(text.contains("add_node n1 (Task)"), "{text}");
    assert!(text.contains("set_attr n1.state"), "{text}");

    let entries = sandbox.jitos_json(&["history", "n2"]);
    let entries = entries
        .as_array()
        .unwrap_or_else(|| panic!("history is not a list: {entries}"));
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["record"]["seq"].as_u64(), Some(2));
    assert_eq!(entries[0]["node_after"]["id"].as_str(), Some("n2"));

    let never = sandbox.jitos_ok(&["history", "ghost"]);
    assert!(never.contains("no record ever changed ghost"), "{never}");
}

// Goal: `log` lists the records, and pages with --from and --limit. Method: seed three
// rewrites and read the whole log and one page of it.
#[test]
fn log_lists_records_and_pages() {
    let sandbox = Sandbox::new();
    let _daemon = seeded(&sandbox);
    let text = sandbox.jitos_ok(&["log"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len() as u64, SEED_HEAD + 1, "{text}");
    assert!(lines[0].contains("genesis"), "{text}");
    assert!(
        lines[2].contains("add_node n2 (File), add_edge n1 -dep-> n2"),
        "{text}"
    );

    let page = sandbox.jitos_ok(&["log", "--from", "2", "--limit", "1"]);
    let lines: Vec<&str> = page.lines().collect();
    assert_eq!(lines.len(), 1, "{page}");
    assert!(lines[0].trim_start().starts_with("2 "), "{page}");
}

// Goal: --json output is machine-readable and consistent across commands. Method: parse
// the JSON of apply, status, log, graph show, verify, replay and snapshot, and check the
// fields agree with each other.
#[test]
fn json_output_parses_and_agrees() {
    let sandbox = Sandbox::new();
    let _daemon = seeded(&sandbox);
    let file = sandbox.path().join("n3.json");
    std::fs::write(
        &file,
        r#"{"ops": [{"add_node": {"id": "n3", "kind": "Task"}}]}"#,
    )
    .unwrap_or_else(|e| panic!("cannot write the rewrite: {e}"));
    let committed = sandbox.jitos_json(&["rewrite", "apply", &path_arg(&file)]);
    assert_eq!(
        committed["seq"].as_u64(),
        Some(SEED_HEAD + 1),
        "{committed:#}"
    );

    let info = sandbox.jitos_json(&["status"]);
    assert_eq!(info["head_seq"], committed["seq"], "{info:#}");
    assert_eq!(info["head_hash"], committed["hash"], "{info:#}");
    assert_eq!(info["digest"], committed["digest"], "{info:#}");
    assert_eq!(info["nodes"].as_u64(), Some(3), "{info:#}");
    assert!(
        info["store_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{info:#}"
    );

    let log = sandbox.jitos_json(&["log"]);
    let records = log
        .as_array()
        .unwrap_or_else(|| panic!("log is not a list: {log:#}"));
    assert_eq!(records.len() as u64, SEED_HEAD + 2, "{log:#}");
    for pair in records.windows(2) {
        assert_eq!(
            pair[1]["parent"], pair[0]["hash"],
            "the chain does not link: {pair:#?}"
        );
    }
    let last = &records[records.len() - 1];
    assert_eq!(last["hash"], committed["hash"], "{last:#}");
    assert_eq!(last["kind"].as_str(), Some(KIND_REWRITE), "{last:#}");
    assert_eq!(
        last["rewrite"]["ops"][0]["add_node"]["id"].as_str(),
        Some("n3"),
        "{last:#}"
    );

    let graph = sandbox.jitos_json(&["graph", "show"]);
    assert_eq!(graph["digest"], committed["digest"], "{graph:#}");
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .map(|nodes| {
            nodes
                .iter()
                .filter_map(|node| node["id"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, ["n1", "n2", "n3"], "{graph:#}");
    assert_eq!(
        graph["edges"][0]["label"].as_str(),
        Some("dep"),
        "{graph:#}"
    );

    let verify = sandbox.jitos_json(&["verify"]);
    assert!(verify["first_bad"].is_null(), "{verify:#}");
    assert_eq!(
        verify["records_checked"].as_u64(),
        Some(SEED_HEAD + 2),
        "{verify:#}"
    );

    let replay = sandbox.jitos_json(&["replay", "--verify"]);
    assert_eq!(replay["replayed_digest"], committed["digest"], "{replay:#}");
    assert_eq!(replay["live_digest"], committed["digest"], "{replay:#}");

    let snapshot = sandbox.jitos_json(&["snapshot"]);
    assert_eq!(snapshot["seq"], committed["seq"], "{snapshot:#}");
    assert_eq!(snapshot["digest"], committed["digest"], "{snapshot:#}");
}

// Goal: a snapshot is taken on request, recovery uses it, and replay from genesis agrees
// with the live state. Method: snapshot, check status, restart the daemon, check it
// recovered the same state, and run `replay --verify`.
#[test]
fn snapshot_recovery_and_replay_verify() {
    let sandbox = Sandbox::new();
    let daemon = seeded(&sandbox);
    let out = sandbox.jitos_ok(&["snapshot"]);
    assert!(
        out.contains(&format!("snapshot at seq {SEED_HEAD}")),
        "{out}"
    );
    let before = status(&mut daemon.client());
    assert_eq!(before.last_snapshot_seq, Some(SEED_HEAD), "{before:?}");
    daemon.terminate();

    let daemon = sandbox.start();
    let after = status(&mut daemon.client());
    assert_eq!(
        (&after.head_hash, &after.digest, after.last_snapshot_seq),
        (&before.head_hash, &before.digest, Some(SEED_HEAD)),
        "the restarted daemon recovered a different state"
    );
    assert!(after.ignored_snapshots.is_empty(), "{after:?}");
    let out = sandbox.jitos_ok(&["replay", "--verify"]);
    assert!(out.contains("equals the live state"), "{out}");
}

// Goal: a store survives export and import whole. Method: export through the daemon,
// import into a fresh data directory, start a daemon there and compare head and digest.
#[test]
fn export_import_gives_the_same_store() {
    let source = Sandbox::new();
    let daemon = seeded(&source);
    let bundle = source.path().join("store.bundle");
    let out = source.jitos_ok(&["export", &path_arg(&bundle)]);
    assert!(
        out.contains(&format!("exported records 0..={SEED_HEAD}")),
        "{out}"
    );
    let original = status(&mut daemon.client());

    let target = Sandbox::new();
    let imported = target.jitos_json(&["import", &path_arg(&bundle)]);
    assert_eq!(
        imported["head_hash"].as_str(),
        Some(original.head_hash.as_str()),
        "{imported:#}"
    );
    // Import folded every record: it reports the digest the daemon will start with.
    assert_eq!(
        imported["digest"].as_str(),
        Some(original.digest.as_str()),
        "{imported:#}"
    );
    let copy = target.start();
    let copied = status(&mut copy.client());
    assert_eq!(
        (
            &copied.store_id,
            copied.head_seq,
            &copied.head_hash,
            &copied.digest
        ),
        (
            &original.store_id,
            original.head_seq,
            &original.head_hash,
            &original.digest
        )
    );
    let again = assert_failure(
        "a second import",
        &target.jitos(&["import", &path_arg(&bundle)]),
    );
    assert!(
        again.contains("another jitosd"),
        "importing over a served store: {again}"
    );
}

// Goal: the read commands work on the store with no daemon running and say what the
// daemon said. Method: capture log, graph and verify from the daemon, stop it, run them
// (and export) offline, check `status` reports the store read-only at the same head, and
// check a write, which needs a daemon, explains that.
#[test]
fn offline_commands_without_a_daemon() {
    let sandbox = Sandbox::new();
    let daemon = seeded(&sandbox);
    let online_log = sandbox.jitos_ok(&["log"]);
    let online_graph = sandbox.jitos_ok(&["graph", "show", "--at", "2"]);
    daemon.terminate();

    assert_eq!(sandbox.jitos_ok(&["log"]), online_log);
    assert_eq!(
        sandbox.jitos_ok(&["graph", "show", "--at", "2"]),
        online_graph
    );
    let verified = sandbox.jitos_ok(&["verify"]);
    assert!(
        verified.contains(&format!("chain ok: {} records", SEED_HEAD + 1)),
        "{verified}"
    );
    let bundle = sandbox.path().join("offline.bundle");
    let out = sandbox.jitos_ok(&["export", &path_arg(&bundle)]);
    assert!(
        out.contains(&format!("({} records)", SEED_HEAD + 1)),
        "{out}"
    );
    assert!(bundle.is_file(), "offline export wrote no file");

    let status = sandbox.jitos_ok(&["status"]);
    assert!(status.contains("mode       read-only"), "{status}");
    assert!(
        status.contains(&format!("head       seq {SEED_HEAD} ")),
        "{status}"
    );
    let refused = assert_failure(
        "a write without a daemon",
        &sandbox.jitos(&["sws", "create"]),
    );
    assert!(refused.contains("no jitosd is listening"), "{refused}");
}

// Goal: the socket is private and a SIGTERM stops the daemon cleanly. Method: check the
// socket's and its directory's modes, send SIGTERM, and check exit 0 and the socket gone.
#[test]
fn socket_is_private_and_sigterm_exits_cleanly() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .unwrap_or_else(|e| panic!("cannot stat {}: {e}", path.display()))
            .permissions()
            .mode()
            & 0o777
    };
    let socket = daemon.socket().to_path_buf();
    let dir = socket
        .parent()
        .unwrap_or_else(|| panic!("the socket has no directory"));
    assert_eq!(mode(&socket), 0o600, "socket mode");
    assert_eq!(mode(dir), 0o700, "socket directory mode");
    let stderr = daemon.terminate();
    assert!(
        !socket.exists(),
        "the socket outlived a SIGTERM\nstderr:\n{stderr}"
    );
}

// Goal: the demo — the README's main job — makes the bundled project's test pass: the
// test fails first, the race of candidate patches leaves exactly one lane collapsed, the
// checked-out project's test passes, and the store verifies. Method: run `jitos demo
// --dir D`, read its story, run the fixed test with sh, verify D offline.
#[test]
fn demo_makes_the_tests_pass() {
    let sandbox = Sandbox::new();
    let out = sandbox.jitos_ok(&["demo", "--dir", &path_arg(sandbox.data_dir())]);
    assert!(out.contains("FAIL: add 2 3 gave -1, want 5"), "{out}");
    let lanes: Vec<&str> = out.lines().filter(|l| l.contains("its test:")).collect();
    assert_eq!(lanes.len(), 3, "{out}");
    let collapsed = lanes.iter().filter(|l| l.contains("collapsed")).count();
    assert_eq!(collapsed, 1, "{out}");
    let winner = lanes
        .iter()
        .any(|l| l.contains("plus_for_minus") && l.contains("collapsed"));
    assert!(winner, "{out}");
    assert!(out.contains("+  echo $(( $1 + $2 ))"), "{out}");
    assert!(
        out.contains("every scheduler decision is the one its state called for"),
        "{out}"
    );
    let fixed = sandbox.data_dir().join("fixed");
    let test = std::process::Command::new("sh")
        .arg("test.sh")
        .current_dir(&fixed)
        .output()
        .unwrap_or_else(|e| panic!("cannot run the fixed test: {e}"));
    let said = String::from_utf8_lossy(&test.stdout);
    assert!(test.status.success(), "{said}");
    let verified = sandbox.jitos_ok(&["verify"]);
    assert!(verified.contains("chain ok"), "{verified}");
}

// Goal: `log --follow` prints records committed after it started. Method: start it from
// the record after the head, commit a rewrite, and wait (bounded) for its line.
#[test]
fn log_follow_prints_new_commits() {
    let sandbox = Sandbox::new();
    let daemon = seeded(&sandbox);
    let from = (SEED_HEAD + 1).to_string();
    let mut follower = sandbox
        .jitos_command(&["log", "--follow", "--from", &from])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start jitos log --follow: {e}"));
    let stdout = follower
        .stdout
        .take()
        .unwrap_or_else(|| panic!("no stdout pipe"));
    let (lines_tx, lines) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                return;
            }
        }
    });

    apply(
        &mut daemon.client(),
        rewrite(r#"{"ops": [{"add_node": {"id": "followed", "kind": "Task"}}]}"#),
    );
    let deadline = Instant::now() + FOLLOW_WAIT;
    let mut seen = Vec::new();
    let found = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if line.contains("add_node followed (Task)") => break Some(line),
            Ok(line) => seen.push(line),
            Err(_) => break None,
        }
    };
    let _ = follower.kill();
    let _ = follower.wait();
    let line = found.unwrap_or_else(|| {
        panic!(
            "log --follow printed no line for the new record within {FOLLOW_WAIT:?}; saw {seen:?}"
        )
    });
    assert!(line.trim_start().starts_with(&from), "{line}");
    assert!(
        seen.is_empty(),
        "log --follow --from {from} printed older records: {seen:?}"
    );
}
