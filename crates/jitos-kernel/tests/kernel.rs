//! The kernel's behaviour through its public API: group commits, recovery, snapshots,
//! time travel, history and verification, on real stores in temporary directories.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::{path::Path, sync::Arc};

use jitos_kernel::{CommitError, Kernel, KernelError, KernelOptions, State};
use jitos_ledger::{Actor, FixedClock};
use jitos_warp::{Node, Rewrite, Value};

fn options(snapshot_every: u64) -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(1_700_000_000_000)),
        snapshot_every,
        read_only: false,
        create_with_id: Some([9; 16]),
        verify_on_open: true,
    }
}

fn rw(json: &str) -> Rewrite {
    Rewrite::from_json(json).unwrap()
}

fn add(id: &str) -> Rewrite {
    rw(&format!(
        r#"{{"ops":[{{"add_node":{{"id":"{id}","kind":"T"}}}}]}}"#
    ))
}

fn set(id: &str, n: i64) -> Rewrite {
    rw(&format!(
        r#"{{"ops":[{{"set_attr":{{"node":"{id}","key":"n","value":{n}}}}}]}}"#
    ))
}

fn commit_all(kernel: &mut Kernel, rewrites: Vec<Rewrite>) {
    let batch = rewrites.into_iter().map(|r| (Actor::System, r)).collect();
    for result in kernel.commit(batch) {
        result.unwrap();
    }
}

fn open(dir: &Path, snapshot_every: u64) -> Kernel {
    Kernel::open(dir, options(snapshot_every)).unwrap()
}

// In one group, refused rewrites take no sequence number and do not disturb the others.
#[test]
fn group_commit_refuses_individually() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 0);
    let results = kernel.commit(vec![
        (Actor::System, add("a")),
        (Actor::System, add("a")),
        (Actor::System, set("a", 1)),
        (Actor::System, set("missing", 1)),
    ]);
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap().record.seq, 1);
    assert!(matches!(results[1], Err(CommitError::Refused(_))));
    assert_eq!(results[2].as_ref().unwrap().record.seq, 2);
    assert!(matches!(results[3], Err(CommitError::Refused(_))));
    assert_eq!(kernel.head().seq, 2);
    assert_eq!(
        kernel.graph().node("a").unwrap().attrs.get("n"),
        Some(&Value::Int(1))
    );
}

// Reopening folds the same state, from a snapshot plus the tail.
#[test]
fn recovery_reproduces_state() {
    let dir = tempfile::tempdir().unwrap();
    let digest = {
        let mut kernel = open(dir.path(), 5);
        commit_all(
            &mut kernel,
            (0..12).map(|i| add(&format!("n{i}"))).collect(),
        );
        commit_all(&mut kernel, vec![set("n3", 7)]);
        kernel.graph().digest()
    };
    let kernel = open(dir.path(), 5);
    assert_eq!(kernel.graph().digest(), digest);
    // Snapshots are taken after a group commits: the group of 12 ended at seq 12.
    assert_eq!(kernel.recovery().snapshot_seq, Some(12));
    assert_eq!(kernel.recovery().replayed_records, 1);
    assert!(kernel.recovery().ignored_snapshots.is_empty());
}

// The graph at an earlier sequence number is exactly the state after that record.
#[test]
fn time_travel_and_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 3);
    commit_all(
        &mut kernel,
        vec![add("a"), add("b"), set("a", 1), set("b", 2), set("a", 3)],
    );
    let at_3 = kernel.graph_at(3).unwrap();
    assert_eq!(at_3.node("a").unwrap().attrs.get("n"), Some(&Value::Int(1)));
    assert!(!at_3.node("b").unwrap().attrs.contains_key("n"));
    assert_eq!(kernel.graph_at(1).unwrap().node_count(), 1);
    assert_eq!(kernel.graph_at(0).unwrap().node_count(), 0);
    assert!(matches!(
        kernel.graph_at(99),
        Err(KernelError::BeyondHead { seq: 99, head: 5 })
    ));
    let history = kernel.history("a").unwrap();
    let seqs: Vec<u64> = history.iter().map(|step| step.record.seq).collect();
    assert_eq!(seqs, vec![1, 3, 5]);
    assert_eq!(
        history[2].node_after.as_ref().unwrap().attrs.get("n"),
        Some(&Value::Int(3))
    );
}

/// More pages than the test graphs have, at the smallest page size asked.
const PAGES_MAX: usize = 60;

/// Every page of `limit` nodes of the graph at `seq` as the daemon paged it before past
/// graphs were kept: the graph folded from genesis, sorted, filtered after the cursor.
fn pages_by_fold(kernel: &Kernel, seq: u64, limit: usize) -> (String, usize, Vec<Vec<Node>>) {
    let mut state = State::default();
    for record in kernel.ledger().range(0, seq) {
        state.fold(&record.unwrap()).unwrap();
    }
    let graph = state.graph;
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page: Vec<Node> = graph
            .nodes()
            .filter(|node| {
                after
                    .as_deref()
                    .is_none_or(|after| node.id.as_str() > after)
            })
            .take(limit)
            .cloned()
            .collect();
        let Some(last) = page.last() else { break };
        after = Some(last.id.to_string());
        pages.push(page);
    }
    (graph.digest().to_string(), graph.node_count(), pages)
}

/// The same, read from the kernel's paged graph at `seq`.
fn pages_kept(kernel: &Kernel, seq: u64, limit: usize) -> (String, usize, Vec<Vec<Node>>) {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        // Each page asks again, as each request of a reader does.
        let paged = kernel.paged_graph_at(seq).unwrap();
        let page: Vec<Node> = paged
            .nodes_after(after.as_deref())
            .take(limit)
            .cloned()
            .collect();
        let Some(last) = page.last() else {
            let graph = paged.graph();
            return (graph.digest().to_string(), graph.node_count(), pages);
        };
        after = Some(last.id.to_string());
        pages.push(page);
        assert!(pages.len() <= PAGES_MAX, "the pages at {seq} do not end");
    }
}

// A past graph read page by page is built once and kept, and its pages, digest and node
// count are those of the graph folded from genesis: at a seq with records after the
// snapshot before it, at one folded on from the kept one, and at one before both.
#[test]
fn kept_past_graphs_page_as_the_fold_from_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 10);
    for group in 0..6 {
        let mut rewrites: Vec<Rewrite> = (0..8).map(|i| add(&format!("n{group}{i}"))).collect();
        rewrites.push(rw(&format!(
            r#"{{"ops":[{{"add_edge":{{"from":"n{group}0","to":"n{group}7","label":"l"}}}}]}}"#
        )));
        rewrites.push(set(&format!("n{group}3"), group));
        if group > 0 {
            let gone = group - 1;
            rewrites.push(rw(&format!(
                r#"{{"ops":[{{"remove_node":{{"id":"n{gone}0","cascade":true}}}}]}}"#
            )));
        }
        commit_all(&mut kernel, rewrites);
    }
    let snapshots: Vec<u64> = kernel
        .ledger()
        .snapshots()
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    // Groups of 10 or 11 records, a snapshot after each group that reaches 10 past the last.
    let snapshot = *snapshots.iter().rev().nth(1).unwrap();
    let tail = snapshot + 4;
    assert!(!snapshots.contains(&tail) && tail < kernel.head().seq);

    let first = kernel.paged_graph_at(tail).unwrap();
    assert!(
        Arc::ptr_eq(&first, &kernel.paged_graph_at(tail).unwrap()),
        "kept, not rebuilt"
    );
    assert_eq!(
        pages_kept(&kernel, tail, 7),
        pages_by_fold(&kernel, tail, 7)
    );
    // Folded on from the kept state; then one before it, from a snapshot.
    for seq in [tail + 3, tail - 2, 3] {
        let (digest, count, pages) = pages_kept(&kernel, seq, 5);
        assert_eq!(
            (digest, count, pages),
            pages_by_fold(&kernel, seq, 5),
            "at {seq}"
        );
    }
}

// A cascading removal appears in the history of the neighbour that lost an edge.
#[test]
fn history_sees_cascades() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 0);
    commit_all(
        &mut kernel,
        vec![
            add("a"),
            add("b"),
            rw(r#"{"ops":[{"add_edge":{"from":"a","to":"b","label":"l"}}]}"#),
            rw(r#"{"ops":[{"remove_node":{"id":"a","cascade":true}}]}"#),
        ],
    );
    let seqs: Vec<u64> = kernel
        .history("b")
        .unwrap()
        .iter()
        .map(|s| s.record.seq)
        .collect();
    assert_eq!(seqs, vec![2, 3, 4]);
    let a = kernel.history("a").unwrap();
    assert!(a.last().unwrap().node_after.is_none());
}

// Replay from genesis reproduces the live digest, and verify finds nothing wrong.
#[test]
fn replay_and_verify_agree() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 4);
    commit_all(
        &mut kernel,
        (0..10).map(|i| add(&format!("n{i}"))).collect(),
    );
    kernel.snapshot().unwrap();
    let replay = kernel.replay_verify().unwrap();
    assert_eq!(replay.records, 11);
    assert_eq!(replay.replayed, replay.live);
    let outcome = kernel.verify(&mut |_| {}).unwrap();
    assert!(outcome.ok(), "{outcome:?}");
    assert_eq!(outcome.records_checked, 11);
    assert!(outcome.snapshots_checked >= 1);
}

// A read-only kernel refuses writes and snapshots.
#[test]
fn read_only_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), 0));
    let mut kernel = Kernel::open(
        dir.path(),
        KernelOptions {
            read_only: true,
            ..options(0)
        },
    )
    .unwrap();
    assert!(matches!(
        kernel.commit(vec![(Actor::System, add("a"))])[0],
        Err(CommitError::ReadOnly)
    ));
    assert!(matches!(kernel.snapshot(), Err(KernelError::ReadOnly)));
}

// Opening a directory with no store and no identity to create one is a clear error.
#[test]
fn missing_store_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let result = Kernel::open(
        &dir.path().join("nothing"),
        KernelOptions {
            create_with_id: None,
            ..options(0)
        },
    );
    assert!(matches!(result, Err(KernelError::Open(_))));
}

// Goal: history answers for nodes the index cannot keep whole — one over its 1 KiB bound,
// one small on the wire whose decoding claims more (many integers) — as for a small one.
// Method: three nodes, each added then changed; each history has both steps, and its last
// node is the graph's.
#[test]
fn history_of_large_and_many_valued_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = open(dir.path(), 0);
    let big = "x".repeat(4096);
    let ints: Vec<String> = (0..200).map(|i| format!(r#""k{i}":{i}"#)).collect();
    commit_all(
        &mut kernel,
        vec![
            add("small"),
            rw(&format!(
                r#"{{"ops":[{{"add_node":{{"id":"big","kind":"T","attrs":{{"text":"{big}"}}}}}}]}}"#
            )),
            rw(&format!(
                r#"{{"ops":[{{"add_node":{{"id":"ints","kind":"T","attrs":{{{}}}}}}}]}}"#,
                ints.join(",")
            )),
            set("small", 1),
            set("big", 1),
            set("ints", 1),
        ],
    );
    assert!(kernel.ledger().indexed());
    for id in ["small", "big", "ints"] {
        let history = kernel.history(id).unwrap();
        assert_eq!(history.len(), 2, "{id}");
        assert_eq!(
            history[1].node_after.as_ref(),
            kernel.graph().node(id),
            "{id}"
        );
    }
}
