//! Reads during writes: `jitos replay --verify` and `jitos export` of a large store run
//! while several clients commit single rewrites; the reads succeed, the writers are served
//! meanwhile, and after a SIGKILL and a restart every acknowledged write is there.

use std::{
    collections::BTreeSet,
    fmt::Write as _,
    path::Path,
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    thread,
    time::{Duration, Instant},
};

use jitos_proto::{ErrorCode, Request, Response};
use jitos_system_tests::{
    add_node, assert_success, call, connect, status, stderr_text, Daemon, Sandbox,
};
use jitos_warp::Op;

/// Bulk rewrites that make the store large, each applied from a file by the CLI.
const BULK_REWRITES: usize = 4;
/// Nodes each bulk rewrite adds: 120,000 in all, enough that a replay from genesis takes
/// a while.
const BULK_NODES: usize = 30_000;
/// Clients committing single rewrites at once.
const WRITERS: usize = 4;
/// Commits each writer makes at least, whenever the readers finish.
const WRITES_MIN: u64 = 25;
/// A writer stops after this many even if the readers somehow never finish.
const WRITES_MAX: u64 = 100_000;
/// Longest the writers may take to get their first commits acknowledged.
const FIRST_ACKS_WAIT: Duration = Duration::from_secs(30);
/// The node kind every single write adds.
const WRITTEN_KIND: &str = "Written";

/// The JSON of bulk rewrite `n`: `BULK_NODES` nodes with an attribute each.
fn bulk_rewrite(n: usize) -> String {
    let mut json = String::from(r#"{"ops":["#);
    for i in 0..BULK_NODES {
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            r#"{{"add_node":{{"id":"bulk{n}-{i}","kind":"Bulk","attrs":{{"i":{i}}}}}}}"#
        )
        .unwrap_or_else(|e| panic!("cannot format a bulk rewrite: {e}"));
    }
    json.push_str("]}");
    json
}

/// One writer: commits `w{writer}-{n}` nodes one at a time until `readers_done` is set
/// and it has made `WRITES_MIN`; returns what was acknowledged, with its seq.
fn write_until_done(
    socket: &Path,
    writer: usize,
    acks: &AtomicU64,
    readers_done: &AtomicBool,
) -> Vec<(u64, String)> {
    let mut client = connect(socket);
    let mut acknowledged = Vec::new();
    for n in 0..WRITES_MAX {
        if n >= WRITES_MIN && readers_done.load(Ordering::SeqCst) {
            break;
        }
        let id = format!("w{writer}-{n}");
        match call(
            &mut client,
            &Request::ApplyRewrite(add_node(&id, WRITTEN_KIND)),
        ) {
            Response::Committed { seq, .. } => {
                acknowledged.push((seq, id));
                acks.fetch_add(1, Ordering::SeqCst);
            }
            other => panic!("writer {writer}: {id} was answered {other:?}"),
        }
    }
    acknowledged
}

/// Waits until the writers have `count` acknowledgements between them.
fn wait_for_acks(acks: &AtomicU64, count: u64, daemon: &Daemon) {
    let waited = Instant::now();
    while acks.load(Ordering::SeqCst) < count {
        assert!(
            waited.elapsed() < FIRST_ACKS_WAIT,
            "the writers had {} acknowledgements after {FIRST_ACKS_WAIT:?}\ndaemon stderr:\n{}",
            acks.load(Ordering::SeqCst),
            daemon.stderr()
        );
        thread::sleep(Duration::from_millis(1));
    }
}

// Goal: "reads during writes": `replay --verify` and `export` of a large store succeed
// while writers commit, the writers are served while they run, and every acknowledged
// write is durable and visible afterwards. Method: build a 120,000-node store from four
// bulk rewrites; start four writers committing single nodes; once each has been
// acknowledged, run replay --verify and export in the background; the writers stop once
// the reads are done. SIGKILL the daemon, restart it, and look up every acknowledged node
// (through the socket, and a few with `jitos graph show --node`), its record in the log,
// the head, `verify` and `replay --verify`.
#[test]
fn replay_and_export_run_while_writers_commit() {
    // A reference, for the scoped threads below to share.
    let sandbox = &Sandbox::new();
    let daemon = sandbox.start();
    for n in 0..BULK_REWRITES {
        let file = sandbox.path().join(format!("bulk{n}.json"));
        std::fs::write(&file, bulk_rewrite(n))
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
        sandbox.jitos_ok(&["rewrite", "apply", &file.to_string_lossy()]);
    }
    let bulk = status(&mut daemon.client());
    assert_eq!(bulk.nodes, (BULK_REWRITES * BULK_NODES) as u64, "{bulk:?}");

    let acks = AtomicU64::new(0);
    let readers_done = AtomicBool::new(false);
    let bundle = sandbox.path().join("store.bundle");
    let bundle_arg = bundle.to_string_lossy().into_owned();
    let (acknowledged, acks_while_reading, replay, export) = thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (acks, readers_done, socket) = (&acks, &readers_done, sandbox.socket());
                scope.spawn(move || write_until_done(socket, writer, acks, readers_done))
            })
            .collect();
        wait_for_acks(&acks, WRITERS as u64, &daemon);
        let before = acks.load(Ordering::SeqCst);
        let replay = scope.spawn(|| sandbox.jitos(&["--json", "replay", "--verify"]));
        let export = scope.spawn(|| sandbox.jitos(&["--json", "export", &bundle_arg]));
        let replay = replay
            .join()
            .unwrap_or_else(|_| panic!("the replay thread panicked"));
        let export = export
            .join()
            .unwrap_or_else(|_| panic!("the export thread panicked"));
        let during = acks.load(Ordering::SeqCst) - before;
        readers_done.store(true, Ordering::SeqCst);
        let acknowledged: Vec<Vec<(u64, String)>> = writers
            .into_iter()
            .map(|writer| {
                writer
                    .join()
                    .unwrap_or_else(|_| panic!("a writer thread panicked"))
            })
            .collect();
        (acknowledged, during, replay, export)
    });

    let replay_text = assert_success("jitos replay --verify (during writes)", &replay);
    let report: serde_json::Value = serde_json::from_str(&replay_text)
        .unwrap_or_else(|e| panic!("replay printed no JSON ({e}):\n{replay_text}"));
    assert_eq!(
        report["replayed_digest"], report["live_digest"],
        "{report:#}"
    );
    assert!(
        report["records"]
            .as_u64()
            .is_some_and(|records| records > bulk.head_seq),
        "the replay folded less than the bulk store: {report:#}"
    );
    let export_text = assert_success("jitos export (during writes)", &export);
    let exported: serde_json::Value = serde_json::from_str(&export_text)
        .unwrap_or_else(|e| panic!("export printed no JSON ({e}):\n{export_text}"));
    assert!(
        exported["to"]
            .as_u64()
            .is_some_and(|to| to >= bulk.head_seq),
        "the export missed the bulk store: {exported:#}\n{}",
        stderr_text(&export)
    );
    assert!(
        acks_while_reading > 0,
        "no write was acknowledged while replay --verify and export ran"
    );

    let total: usize = acknowledged.iter().map(Vec::len).sum();
    println!(
        "reads during writes: {} bulk nodes, {total} single writes acknowledged, \
         {acks_while_reading} of them while replay --verify and export ran",
        bulk.nodes
    );
    daemon.kill9();

    let daemon = sandbox.start();
    let mut client = daemon.client();
    let head = status(&mut client).head_seq;
    assert_eq!(
        head,
        bulk.head_seq + total as u64,
        "the restarted store's head does not account for exactly the acknowledged writes"
    );
    let mut seqs = BTreeSet::new();
    for (seq, id) in acknowledged.iter().flatten() {
        assert!(seqs.insert(*seq), "seq {seq} was acknowledged twice");
        match client.graph_show(None, Some(id.clone()), None) {
            Ok(Ok(view)) => assert!(
                view.nodes.iter().any(|node| node.id.as_str() == id),
                "{id} is not in its own graph view: {view:?}"
            ),
            Ok(Err(error)) if error.code == ErrorCode::NotFound => {
                panic!("{id}, acknowledged at seq {seq}, is gone after the restart")
            }
            other => panic!("graph show --node {id} answered {other:?}"),
        }
        match call(
            &mut client,
            &Request::Log {
                from: *seq,
                limit: 1,
            },
        ) {
            Response::Records(records) => {
                let added = records
                    .first()
                    .and_then(|record| record.rewrite.as_ref())
                    .is_some_and(|rewrite| {
                        matches!(rewrite.ops.as_slice(), [Op::AddNode { id: added, .. }] if added.as_str() == id)
                    });
                assert!(
                    added,
                    "the record at seq {seq} does not add {id}: {records:?}"
                );
            }
            other => panic!("log from {seq} answered {other:?}"),
        }
    }
    for writes in &acknowledged {
        for (_, id) in [writes.first(), writes.last()].into_iter().flatten() {
            let shown = sandbox.jitos_ok(&["graph", "show", "--node", id]);
            assert!(shown.contains(id.as_str()), "{shown}");
        }
    }
    let verify = sandbox.jitos_json(&["verify"]);
    assert!(verify["first_bad"].is_null(), "{verify:#}");
    assert_eq!(
        verify["records_checked"].as_u64(),
        Some(head + 1),
        "{verify:#}"
    );
    let replay = sandbox.jitos_json(&["replay", "--verify"]);
    assert_eq!(
        replay["replayed_digest"], replay["live_digest"],
        "{replay:#}"
    );
    daemon.terminate();
}
