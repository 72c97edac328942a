//! Lists a page at a time, big answers, and following a process, through the real daemon
//! and CLI: `sws list`, `job list`, `ps` and `log --process` paged with `--limit` and
//! `--after`; a limit over the maximum refused; a graph larger than a frame shown whole;
//! an answer too large for a frame refused with an error frame on a connection that
//! carries on; `jitos wait` following a process to its end; closed workspaces, ended
//! attempts and ended processes answered from the ledger after a restart; a client of the
//! previous protocol refused at its hello.
#![allow(clippy::unwrap_used)]

use std::fs;

use jitos_proto::{
    decode_message, encode_message, read_frame, write_frame, ErrorCode, Hello, Request, Response,
    FRAME_BYTES_MAX, PROTOCOL_MAGIC, PROTOCOL_VERSION,
};
use jitos_system_tests::{
    assert_failure, assert_success, call, create_sws, job_spec, run_job, Daemon, Sandbox,
};

/// A library with a task that asks a person, so a process waits without running a
/// worker, and one that asks and then runs a slow job.
const METHODS: &str = r#"
[task.ask_only]
params = ["marker"]
ask = { question = "Keep {marker}?" }

[task.ask_then_run]
params = ["marker"]
[[task.ask_then_run.method]]
name = "ask_then_run"
steps = [{ task = "ask_only" }, { task = "slow" }]

[task.slow]
params = ["marker"]
run = { worker = "shell", args = ["sh", "-c", "sleep 1 && echo {marker} > slow.txt"], effect = "workspace", timeout_secs = 30 }
"#;

/// Items made of each kind: more than two pages of `PAGE`.
const ITEMS: usize = 5;

/// The page size the tests ask for.
const PAGE: &str = "2";

fn start(sandbox: &Sandbox) -> Daemon {
    let dir = sandbox.path().join("methods");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("test.toml"), METHODS).unwrap();
    sandbox.start_with(&["--methods-dir", dir.to_str().unwrap()])
}

/// Submits a process that waits for an answer; its id.
fn submit_asking(sandbox: &Sandbox, marker: &str) -> u64 {
    submit(sandbox, "ask_only", marker)
}

/// Submits a process of `goal`; its id.
fn submit(sandbox: &Sandbox, goal: &str, marker: &str) -> u64 {
    let path = sandbox.path().join(format!("{marker}.toml"));
    fs::write(
        &path,
        format!("goal = {goal:?}\n[params]\nmarker = {marker:?}\n[allow]\nworkers = [\"shell\"]\n"),
    )
    .unwrap();
    let out = assert_success(
        "submit",
        &sandbox.jitos(&["--json", "submit", path.to_str().unwrap()]),
    );
    let value: serde_json::Value = serde_json::from_str(&out).unwrap();
    value["process"].as_u64().unwrap()
}

/// Runs `jitos --json ARGS`, asserts it succeeds and parses it.
#[track_caller]
fn json(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let text = assert_success(&format!("jitos {}", full.join(" ")), &sandbox.jitos(&full));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("no JSON ({e}):\n{text}"))
}

/// Every page of a list command, `PAGE` items at a time, following each page's `next`;
/// the cursors of all the items, in the order the pages gave them. Every page but the
/// last is full and names a next; the last names none.
fn page_through(sandbox: &Sandbox, command: &[&str], cursor: &str) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut after: Option<u64> = None;
    for _ in 0..100 {
        let mut args = command.to_vec();
        args.extend(["--limit", PAGE]);
        let after_text = after.map(|a| a.to_string());
        if let Some(after) = &after_text {
            args.extend(["--after", after]);
        }
        let page = json(sandbox, &args);
        let items = page["items"].as_array().unwrap();
        seen.extend(items.iter().map(|item| item[cursor].as_u64().unwrap()));
        match page["next"].as_u64() {
            Some(next) => {
                assert_eq!(
                    items.len().to_string(),
                    PAGE,
                    "a page before the last: {page}"
                );
                assert_eq!(Some(next), seen.last().copied(), "{page}");
                after = Some(next);
            }
            None => {
                assert!(page["next"].is_null(), "{page}");
                return seen;
            }
        }
    }
    panic!("{command:?} did not reach its last page");
}

/// The whole list in one page of the largest size.
fn one_page(sandbox: &Sandbox, command: &[&str], cursor: &str) -> Vec<u64> {
    let mut args = command.to_vec();
    args.extend(["--limit", "10000"]);
    let page = json(sandbox, &args);
    assert!(page["next"].is_null(), "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[cursor].as_u64().unwrap())
        .collect()
}

// Goal: sws list, job list --all, ps --all and log --process each page through more
// items than one page holds, every item exactly once and in the list's order, with
// `next` on every page but the last, and the text output naming the command for the
// next page. Method: make 5 workspaces, 5 attempts and 5 waiting processes; page with
// --limit 2 and compare with the single page of --limit 10000 and with what was made.
#[test]
fn lists_page_through_every_item_once() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let mut client = daemon.client();
    let mut workspaces = Vec::new();
    let mut attempts = Vec::new();
    for _ in 0..ITEMS {
        let sws = create_sws(&mut client);
        workspaces.push(sws);
        attempts.push(run_job(&mut client, job_spec("noop", sws, &[])).id);
    }
    let processes: Vec<u64> = (0..ITEMS)
        .map(|i| submit_asking(&sandbox, &format!("m{i}")))
        .collect();

    let listed = page_through(&sandbox, &["sws", "list"], "id");
    assert_eq!(listed, one_page(&sandbox, &["sws", "list"], "id"));
    assert!(
        workspaces.iter().all(|sws| listed.contains(sws)),
        "{listed:?} lacks one of {workspaces:?}"
    );
    assert!(listed.windows(2).all(|w| w[0] < w[1]), "{listed:?}");

    let jobs = page_through(&sandbox, &["job", "list", "--all"], "id");
    attempts.reverse();
    assert_eq!(jobs, attempts, "attempts, newest first");
    assert_eq!(jobs, one_page(&sandbox, &["job", "list", "--all"], "id"));

    let ps = page_through(&sandbox, &["ps", "--all"], "id");
    let mut newest_first = processes.clone();
    newest_first.reverse();
    assert_eq!(ps, newest_first, "processes, newest first");
    assert_eq!(page_through(&sandbox, &["ps"], "id"), newest_first);

    let pid = processes[0].to_string();
    let log = page_through(&sandbox, &["log", "--process", &pid], "seq");
    assert!(log.len() > 2, "one page would have held {log:?}");
    assert_eq!(log, one_page(&sandbox, &["log", "--process", &pid], "seq"));
    assert!(log.windows(2).all(|w| w[0] < w[1]), "{log:?}");
    assert_eq!(
        log.first(),
        processes.first(),
        "the log starts at the submit"
    );

    let text = assert_success(
        "ps --all --limit 2",
        &sandbox.jitos(&["ps", "--all", "--limit", PAGE]),
    );
    let more = format!("more: jitos ps --all --limit 2 --after {}", newest_first[1]);
    assert!(text.trim_end().ends_with(&more), "{text}");
    let last = newest_first[ITEMS - 2].to_string();
    let text = assert_success(
        "ps --all, last page",
        &sandbox.jitos(&["ps", "--all", "--limit", PAGE, "--after", &last]),
    );
    assert!(!text.contains("more:"), "{text}");
    assert!(
        text.contains(&format!(" {} ", newest_first[ITEMS - 1])),
        "{text}"
    );
}

// Goal: closed workspaces, ended attempts and ended processes, which the daemon no longer
// holds in memory, are still listed, shown and followed after a restart, beside the live
// ones; acting on an ended one names how it ended. Method: three workspaces with a noop
// job each; discard one, collapse one; two waiting processes, one cancelled; kill and
// restart the daemon; then the lists, `sws show`, `job show`, `inspect`, `wait`, and a
// second cancel and a collapse of the discarded workspace.
#[test]
fn ended_things_are_answered_after_a_restart() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let mut client = daemon.client();
    let mut workspaces = Vec::new();
    let mut attempts = Vec::new();
    for _ in 0..3 {
        let sws = create_sws(&mut client);
        workspaces.push(sws);
        attempts.push(run_job(&mut client, job_spec("noop", sws, &[])).id);
    }
    let [discarded, collapsed, open] = [0, 1, 2].map(|i| workspaces[i].to_string());
    assert_success(
        "sws discard",
        &sandbox.jitos(&["sws", "discard", &discarded, "--reason", "not needed"]),
    );
    assert_success(
        "sws collapse",
        &sandbox.jitos(&["sws", "collapse", &collapsed]),
    );
    let cancelled = submit_asking(&sandbox, "gone");
    let waiting = submit_asking(&sandbox, "kept");
    assert_success(
        "cancel",
        &sandbox.jitos(&["cancel", &cancelled.to_string()]),
    );
    drop(client);
    drop(daemon);
    let _daemon = start(&sandbox);

    let listed = json(&sandbox, &["sws", "list"]).to_string();
    for sws in &workspaces {
        assert!(
            listed.contains(&format!("\"id\":{sws},")),
            "{sws} in {listed}"
        );
    }
    let shown = json(&sandbox, &["sws", "show", &discarded]);
    assert_eq!(
        shown["summary"]["state"]["discarded"]["reason"], "not needed",
        "{shown}"
    );
    let shown = json(&sandbox, &["sws", "show", &open]);
    assert_eq!(shown["summary"]["state"], "open", "{shown}");

    let jobs = page_through(&sandbox, &["job", "list", "--all"], "id");
    let mut newest_first = attempts.clone();
    newest_first.reverse();
    assert_eq!(jobs, newest_first);
    assert!(json(&sandbox, &["job", "list"])["items"]
        .as_array()
        .unwrap()
        .is_empty());
    let job = json(&sandbox, &["job", "show", &attempts[0].to_string()]);
    assert!(job["state"]["Done"].is_object(), "{job}");

    assert_eq!(
        page_through(&sandbox, &["ps", "--all"], "id"),
        [waiting, cancelled]
    );
    assert_eq!(page_through(&sandbox, &["ps"], "id"), [waiting]);
    let inspected = json(&sandbox, &["inspect", &cancelled.to_string()]);
    assert_eq!(inspected["summary"]["status"], "cancelled", "{inspected}");
    // A process that did not end done makes `wait` exit 1, with its end on stdout.
    let followed = sandbox.jitos(&["--json", "wait", &cancelled.to_string()]);
    assert_eq!(followed.status.code(), Some(1), "{followed:?}");
    let followed: serde_json::Value = serde_json::from_slice(&followed.stdout).unwrap();
    assert_eq!(followed["summary"]["status"], "cancelled", "{followed}");

    let again = assert_failure(
        "cancel again",
        &sandbox.jitos(&["cancel", &cancelled.to_string()]),
    );
    assert!(again.contains("has ended (cancelled)"), "{again}");
    let closed = assert_failure(
        "collapse a discarded workspace",
        &sandbox.jitos(&["sws", "collapse", &discarded]),
    );
    assert!(closed.contains("is not open"), "{closed}");
}

// Goal: a limit beyond the maximum, or of zero, is refused with a message naming the
// range, for every paged list. Method: ask each list for 10001 items, and one for 0.
#[test]
fn a_limit_beyond_the_maximum_is_refused() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox);
    let pid = submit_asking(&sandbox, "m").to_string();
    for command in [
        vec!["sws", "list"],
        vec!["job", "list", "--all"],
        vec!["ps", "--all"],
        vec!["worker", "list"],
        vec!["log", "--process", &pid],
    ] {
        let mut args = command.clone();
        args.extend(["--limit", "10001"]);
        let out = assert_failure(&format!("{command:?} --limit 10001"), &sandbox.jitos(&args));
        assert!(out.contains("1 to 10000"), "{command:?}: {out}");
    }
    let out = assert_failure("ps --limit 0", &sandbox.jitos(&["ps", "--limit", "0"]));
    assert!(out.contains("1 to 10000"), "{out}");
    drop(daemon);
}

/// A rewrite adding `count` nodes from `first` on, each with a `body` of `body_bytes`.
fn big_rewrite(first: usize, count: usize, body_bytes: usize) -> String {
    let body = "b".repeat(body_bytes);
    let ops: Vec<String> = (first..first + count)
        .map(|i| {
            format!(
                r#"{{"add_node": {{"id": "big:{i:06}", "kind": "Blob", "attrs": {{"body": "{body}"}}}}}}"#
            )
        })
        .collect();
    format!(r#"{{"ops": [{}]}}"#, ops.join(","))
}

// Goal: a graph whose answer is larger than a frame is shown whole, as JSON and as text,
// now and as of an earlier seq; an answer that cannot be split and is too large comes
// back as a TooLarge error frame that names the flag to narrow it, and the connection
// goes on serving. Method: four rewrites of 10,000 nodes with 500-byte attributes (over
// 20 MB of graph), written through `jitos rewrite apply`; then `graph show`, and a `log`
// page holding all four rewrites over the raw socket.
#[test]
fn a_graph_larger_than_a_frame_is_streamed() {
    const REWRITES: usize = 4;
    const NODES: usize = 10_000;
    const BODY: usize = 500;
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut seqs = Vec::new();
    for r in 0..REWRITES {
        let file = sandbox.path().join(format!("big-{r}.json"));
        fs::write(&file, big_rewrite(r * NODES, NODES, BODY)).unwrap();
        let out = assert_success(
            "rewrite apply",
            &sandbox.jitos(&["--json", "rewrite", "apply", file.to_str().unwrap()]),
        );
        let value: serde_json::Value = serde_json::from_str(&out).unwrap();
        seqs.push(value["seq"].as_u64().unwrap());
    }
    assert!(
        REWRITES * NODES * BODY > FRAME_BYTES_MAX as usize,
        "the graph must not fit in one frame"
    );

    let shown = json(&sandbox, &["graph", "show"]);
    let nodes = shown["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), REWRITES * NODES);
    assert_eq!(nodes[0]["id"], "big:000000");
    assert_eq!(nodes[REWRITES * NODES - 1]["id"], "big:039999");
    assert_eq!(shown["at_seq"].as_u64(), seqs.last().copied());
    let status = json(&sandbox, &["status"]);
    assert_eq!(shown["digest"], status["digest"]);

    let at = seqs[REWRITES - 2].to_string();
    let earlier = json(&sandbox, &["graph", "show", "--at", &at]);
    assert_eq!(
        earlier["nodes"].as_array().unwrap().len(),
        (REWRITES - 1) * NODES
    );

    let text = assert_success("graph show", &sandbox.jitos(&["graph", "show"]));
    assert!(text.contains("big:039999"), "the text lacks the last node");

    let mut client = daemon.client();
    match call(
        &mut client,
        &Request::Log {
            from: 0,
            limit: 100,
        },
    ) {
        Response::Error(e) => {
            assert_eq!(e.code, ErrorCode::TooLarge, "{e:?}");
            assert!(e.message.contains("--limit"), "{}", e.message);
        }
        other => panic!("a log page of 20 MB was sent: {other:?}"),
    }
    match call(&mut client, &Request::Status) {
        Response::Status(info) => assert_eq!(Some(info.head_seq), seqs.last().copied()),
        other => panic!("the connection did not go on: {other:?}"),
    }
    let out = assert_failure("log", &sandbox.jitos(&["log"]));
    assert!(
        out.contains("too large") && out.contains("--limit"),
        "{out}"
    );
}

// Goal: `jitos wait` follows a process: on one that waits for a person it exits 3 with
// the command that answers; on one that runs, it prints the process's records as they
// commit and exits 0 once the process is done, its last lines saying so; on an unknown
// process it fails. Method: a process that asks, then runs a slow shell job; wait (3);
// answer; wait again (0, with the job's records and the end).
#[test]
fn wait_follows_a_process_to_its_end() {
    let sandbox = Sandbox::new();
    let _daemon = start(&sandbox);
    let pid = submit(&sandbox, "ask_then_run", "m");
    let pid_text = pid.to_string();

    let waiting = sandbox.jitos(&["wait", &pid_text]);
    assert_eq!(waiting.status.code(), Some(3), "{waiting:?}");
    let out = String::from_utf8_lossy(&waiting.stdout);
    assert!(out.contains("process.submit"), "{out}");
    assert!(out.contains(&format!("process {pid} is waiting")), "{out}");
    assert!(out.contains(&format!("jitos resume {pid}")), "{out}");

    assert_success(
        "resume",
        &sandbox.jitos(&["resume", &pid_text, "--value", "\"yes\""]),
    );
    let done = assert_success("wait", &sandbox.jitos(&["wait", &pid_text]));
    for kind in ["process.submit", "job.dispatch", "job.done", "process.end"] {
        assert_eq!(done.matches(kind).count(), 1, "{kind} once:\n{done}");
    }
    let last = done.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(&format!("process {pid} is done")),
        "{done}"
    );

    let followed = json(&sandbox, &["wait", &pid_text]);
    assert_eq!(followed["summary"]["status"], "done", "{followed}");

    let unknown = assert_failure("wait 999999", &sandbox.jitos(&["wait", "999999"]));
    assert!(unknown.contains("no process 999999"), "{unknown}");
}

// Goal: a client of the protocol before paged lists and streamed graphs is refused at
// its hello with the version mismatch named, not misread later. Method: a hello of the
// previous version over a raw socket.
#[test]
fn a_client_of_the_previous_protocol_is_refused() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut stream = std::os::unix::net::UnixStream::connect(daemon.socket()).unwrap();
    let hello = Hello {
        magic: PROTOCOL_MAGIC,
        protocol_version: PROTOCOL_VERSION - 1,
        client: "old".to_owned(),
    };
    write_frame(&mut stream, &encode_message(&hello).unwrap()).unwrap();
    match decode_message::<Response>(&read_frame(&mut stream).unwrap()).unwrap() {
        Response::Error(e) => {
            assert_eq!(e.code, ErrorCode::BadRequest);
            let said = format!(
                "protocol version {} is not supported (this jitosd speaks {PROTOCOL_VERSION})",
                PROTOCOL_VERSION - 1
            );
            assert!(e.message.contains(&said), "{}", e.message);
        }
        other => panic!("an old hello was answered {other:?}"),
    }
}
