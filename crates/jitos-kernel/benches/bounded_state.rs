//! Bounded state: snapshot size and the folded state's heap after 100 k closed workspaces
//! and 100 k ended attempts, against a store that never had them (target: within 1.2×).
//!
//! Both stores get the same base: 1,000 system nodes and 10 open workspaces, each with a
//! node in its overlay and a running attempt. Store B then opens and closes 100 k more
//! workspaces (half discarded after a change, half collapsed empty, so the system graph
//! stays the base's) and dispatches 100 k attempts into a live workspace and fails them.
//! Each store is snapshotted, closed and reopened from that snapshot; a counting global
//! allocator measures the heap the reopened kernel and its state hold. RocksDB's own
//! memory is allocated by C++ and not counted, which is the point: this is the fold.
//!
//! Without `--bench` (`cargo test --benches`) it runs at 1/100 of the scale, as a smoke test.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{alloc::System, path::Path, sync::Arc, time::Instant};

use jitos_kernel::{
    Command, Dispatch, Effect, FailureCause, Kernel, KernelOptions, Outcome, Request, Requester,
    COMMIT_BATCH_MAX,
};
use jitos_ledger::{Actor, FixedClock};
use jitos_sws::Over;
use jitos_warp::{NodeId, Op, Rewrite};
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Heap bytes allocated and not yet freed.
fn live() -> isize {
    let stats = ALLOCATOR.stats();
    stats.bytes_allocated as isize - stats.bytes_deallocated as isize + stats.bytes_reallocated
}

const BASE_NODES: usize = 1_000;
const BASE_WORKSPACES: usize = 10;
/// Closed workspaces and ended attempts in store B, each, at full scale.
const CHURN: usize = 100_000;
const TARGET_RATIO: f64 = 1.2;

fn options() -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(1_700_000_000_000)),
        // Only the snapshot taken at the end: recovery then starts from it, with no tail.
        snapshot_every: 0,
        read_only: false,
        create_with_id: Some([2; 16]),
        verify_on_open: false,
    }
}

fn add_node(id: &str) -> Rewrite {
    Rewrite {
        ops: vec![Op::AddNode {
            id: NodeId::new(id).unwrap(),
            kind: "Item".into(),
            attrs: Default::default(),
        }],
        expect: Vec::new(),
    }
}

fn dispatch(sws: u64) -> Dispatch {
    Dispatch {
        worker: "noop".to_owned(),
        worker_version: "0.1.0".to_owned(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: 1_000,
        effect: Effect::GraphOnly,
        paths: Vec::new(),
        owner: None,
    }
}

fn request(command: Command) -> Request {
    Request {
        actor: Actor::System,
        command,
    }
}

/// Executes `commands` (in as many groups as they need) and returns the seq of each one's
/// last record: a workspace's or an attempt's id when it created one.
fn run(kernel: &mut Kernel, commands: Vec<Command>) -> Vec<u64> {
    kernel
        .execute(commands.into_iter().map(request).collect())
        .into_iter()
        .map(|answer| match answer.unwrap() {
            Outcome::Recorded(record) | Outcome::SwsDone(record) => record.seq,
            other => panic!("unexpected answer {other:?}"),
        })
        .collect()
}

/// The content both stores share; returns the first live workspace, where B's attempts go.
fn build_base(kernel: &mut Kernel) -> u64 {
    let nodes = (0..BASE_NODES)
        .map(|i| (Actor::System, add_node(&format!("node:{i}"))))
        .collect();
    for result in kernel.commit(nodes) {
        result.unwrap();
    }
    let at_seq = kernel.head().seq;
    let live = run(
        kernel,
        (0..BASE_WORKSPACES)
            .map(|_| Command::SwsCreate(Over::System { at_seq }))
            .collect(),
    );
    let mut work = Vec::new();
    for (i, &sws) in live.iter().enumerate() {
        work.push(Command::SwsApply {
            sws,
            rewrite: add_node(&format!("live:{i}")),
        });
        work.push(Command::JobDispatch(dispatch(sws)));
    }
    run(kernel, work);
    live[0]
}

/// Opens and closes `churn` workspaces and dispatches and fails `churn` attempts into
/// `live`, in groups of at most `COMMIT_BATCH_MAX` commands; returns the groups executed.
fn churn(kernel: &mut Kernel, live: u64, churn: usize) -> usize {
    let per_round = COMMIT_BATCH_MAX / 2;
    let mut done = 0;
    let mut groups = 0;
    while done < churn {
        let n = per_round.min(churn - done);
        let at_seq = kernel.head().seq;
        let mut opening: Vec<Command> = (0..n)
            .map(|_| Command::SwsCreate(Over::System { at_seq }))
            .collect();
        opening.extend((0..n).map(|_| Command::JobDispatch(dispatch(live))));
        let ids = run(kernel, opening);
        let (workspaces, attempts) = ids.split_at(n);
        let mut closing = Vec::with_capacity(3 * n);
        for (i, &sws) in workspaces.iter().enumerate() {
            if (done + i) % 2 == 0 {
                closing.push(Command::SwsApply {
                    sws,
                    rewrite: add_node(&format!("scratch:{sws}")),
                });
                closing.push(Command::SwsDiscard {
                    sws,
                    reason: "benchmark churn".to_owned(),
                });
            } else {
                closing.push(Command::SwsCollapse {
                    sws,
                    by: Requester {
                        uid: 0,
                        user: "root".to_owned(),
                        roles: Vec::new(),
                    },
                    writ: None,
                });
            }
        }
        closing.extend(attempts.iter().map(|&attempt| Command::JobFail {
            attempt,
            cause: FailureCause::Worker,
            detail: "benchmark churn".to_owned(),
        }));
        run(kernel, closing);
        done += n;
        groups += 2;
    }
    groups
}

struct Measured {
    head_seq: u64,
    open_workspaces: usize,
    running_attempts: usize,
    snapshot_state_bytes: u64,
    snapshot_stored_bytes: u64,
    /// Heap of the writer's state after its last group (shape left by the live fold).
    writer_state_heap: isize,
    /// Heap a reopened kernel holds, state included.
    reopened_kernel_heap: isize,
    /// Heap of the reopened kernel's state alone.
    reopened_state_heap: isize,
    build_secs: f64,
}

/// Heap bytes only `state` holds: what dropping it frees, once nothing else shares it.
fn heap_of(state: jitos_kernel::State) -> isize {
    let before = live();
    drop(state);
    before - live()
}

fn measure(dir: &Path, churn_count: usize) -> Measured {
    let started = Instant::now();
    let mut kernel = Kernel::open(dir, options()).unwrap();
    let live_sws = build_base(&mut kernel);
    if churn_count > 0 {
        churn(&mut kernel, live_sws, churn_count);
    }
    let build_secs = started.elapsed().as_secs_f64();
    let meta = kernel.snapshot().unwrap();
    let encoded = kernel.state().encode_snapshot().unwrap();
    assert_eq!(encoded.len() as u64, meta.state_bytes);
    let head_seq = kernel.head().seq;
    let writer_state = kernel.state().clone();
    drop(kernel);
    let writer_state_heap = heap_of(writer_state);

    let before = live();
    let kernel = Kernel::open(dir, options()).unwrap();
    let reopened_kernel_heap = live() - before;
    assert_eq!(kernel.recovery().snapshot_seq, Some(head_seq));
    assert_eq!(kernel.recovery().replayed_records, 0);
    let open_workspaces = kernel.pool().open_count();
    let running_attempts = kernel.jobs().running().count();
    let state = kernel.state().clone();
    drop(kernel);
    let reopened_state_heap = heap_of(state);
    Measured {
        head_seq,
        open_workspaces,
        running_attempts,
        snapshot_state_bytes: meta.state_bytes,
        snapshot_stored_bytes: meta.stored_bytes,
        writer_state_heap,
        reopened_kernel_heap,
        reopened_state_heap,
        build_secs,
    }
}

fn ratio(b: f64, a: f64) -> String {
    let r = b / a;
    let verdict = if r <= TARGET_RATIO {
        "ok"
    } else {
        "OVER TARGET"
    };
    format!("{r:.3} (≤ {TARGET_RATIO}) {verdict}")
}

fn main() {
    // `cargo bench` passes `--bench`; a test run of the benches gets a quick smoke run.
    let scale = if std::env::args().any(|a| a == "--bench") {
        CHURN
    } else {
        CHURN / 100
    };
    let started = Instant::now();
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let a = measure(a_dir.path(), 0);
    let b = measure(b_dir.path(), scale);
    assert_eq!(
        (a.open_workspaces, a.running_attempts),
        (b.open_workspaces, b.running_attempts),
        "both stores must hold the same live things"
    );

    println!(
        "\nbounded state: store B = store A + {scale} closed workspaces + {scale} ended attempts"
    );
    println!(
        "{:<6} {:>9} {:>6} {:>8} {:>14} {:>14} {:>14} {:>14} {:>14} {:>9}",
        "store",
        "head seq",
        "open",
        "running",
        "snap state B",
        "snap stored B",
        "writer state",
        "reopened krnl",
        "reopened state",
        "build s"
    );
    for (name, m) in [("A", &a), ("B", &b)] {
        println!(
            "{name:<6} {:>9} {:>6} {:>8} {:>14} {:>14} {:>14} {:>14} {:>14} {:>9.1}",
            m.head_seq,
            m.open_workspaces,
            m.running_attempts,
            m.snapshot_state_bytes,
            m.snapshot_stored_bytes,
            m.writer_state_heap,
            m.reopened_kernel_heap,
            m.reopened_state_heap,
            m.build_secs,
        );
    }
    let f = |x: isize| x as f64;
    println!("\nratios B / A (target ≤ {TARGET_RATIO}×):");
    println!(
        "  snapshot size (state bytes):   {}",
        ratio(b.snapshot_state_bytes as f64, a.snapshot_state_bytes as f64)
    );
    println!(
        "  snapshot size (stored bytes):  {}",
        ratio(
            b.snapshot_stored_bytes as f64,
            a.snapshot_stored_bytes as f64
        )
    );
    println!(
        "  memory (reopened state heap):  {}",
        ratio(f(b.reopened_state_heap), f(a.reopened_state_heap))
    );
    println!(
        "  memory (reopened kernel heap): {}",
        ratio(f(b.reopened_kernel_heap), f(a.reopened_kernel_heap))
    );
    println!(
        "  memory (writer state heap):    {}",
        ratio(f(b.writer_state_heap), f(a.writer_state_heap))
    );
    println!("total {:.1} s", started.elapsed().as_secs_f64());
}
