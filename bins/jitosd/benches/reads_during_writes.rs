//! Single-rewrite latency through a real daemon, idle and while `replay --verify` and
//! `export` of a large ledger run against it, and `graph show --node` on its graph. The
//! issue's targets: those reads raise the p50 of single rewrites by at most 2×, and one
//! node of a 1M-node graph is shown in at most 1 ms.
//!
//! The store is built through the kernel directly, in groups of 1,024 rewrites
//! (`JITOS_BENCH_RECORDS` records, 1,000,000 by default, each adding one node, each node
//! but the first with an edge from the one before), then served with full durability by a daemon on
//! this process's runtime. While criterion measures the busy case, one client loops
//! `ReplayVerify` and another `Export` of the whole ledger (what `jitos replay --verify`
//! and `jitos export` ask). The p50s and their ratio are printed after criterion's report.
//!
//! Then the HTTP API on the same store: a GraphQL page of 100 nodes of the graph at the
//! middle seq, and at a seq half an interval after the oldest snapshot the ledger kept
//! (the store has a snapshot every 100,000 records, as a daemon would, and the ledger
//! keeps the newest few) — the first request, the same page again, and the pages after
//! it — and
//! the lag of the `records` subscription while 1,000 records a second are committed.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::{Path, PathBuf},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion};
use jitos_kernel::{Kernel, KernelOptions};
use jitos_ledger::{Actor, SystemClock};
use jitos_proto::{Client, Request, Response};
use jitos_warp::{NodeId, Op, Rewrite, Value};
use jitosd::{Daemon, DaemonConfig, WorkerConfig};
use serde_json::json;

const RECORDS_DEFAULT: u64 = 1_000_000;
/// Rewrites per synced group while the store is built.
const BUILD_GROUP: u64 = 1_024;
/// Records between the built store's snapshots.
const SNAPSHOT_EVERY: u64 = 100_000;
/// Records per second committed while the subscription's lag is measured.
const SUBSCRIBED_RATE: u64 = 1_000;
/// How long they are committed for.
const SUBSCRIBED_FOR: Duration = Duration::from_secs(5);
/// Pages of the past graph read after the first, cursor by cursor.
const FOLLOWING_PAGES: usize = 20;
/// The issue's bound on p50(during reads) / p50(idle).
const TARGET_RATIO: f64 = 2.0;

fn records() -> u64 {
    std::env::var("JITOS_BENCH_RECORDS")
        .ok()
        .map(|text| text.trim().parse().expect("JITOS_BENCH_RECORDS is a count"))
        .unwrap_or(RECORDS_DEFAULT)
}

fn node(n: u64) -> NodeId {
    NodeId::new(format!("n{n}")).unwrap()
}

fn one_op(op: Op) -> Rewrite {
    Rewrite {
        ops: vec![op],
        expect: Vec::new(),
    }
}

/// The rewrite of record `i` (1-based) of the built store: node `n{i}`, linked from the
/// one before.
fn built_rewrite(i: u64) -> Rewrite {
    let mut ops = vec![Op::AddNode {
        id: node(i),
        kind: "T".to_owned(),
        attrs: [("i".to_owned(), Value::Int(i as i64))].into(),
    }];
    if i > 1 {
        ops.push(Op::AddEdge {
            from: node(i - 1),
            to: node(i),
            label: "next".to_owned(),
        });
    }
    Rewrite {
        ops,
        expect: Vec::new(),
    }
}

/// Builds a store of `records` rewrites in `data_dir/store`, with a snapshot at its head
/// so the daemon recovers fast (it still walks the whole chain); the seqs of the snapshots
/// the ledger kept, oldest first.
fn build_store(data_dir: &Path, records: u64) -> Vec<u64> {
    let started = Instant::now();
    let mut kernel = Kernel::open(
        &data_dir.join("store"),
        KernelOptions {
            clock: Arc::new(SystemClock),
            snapshot_every: 0,
            read_only: false,
            create_with_id: Some([42; 16]),
            verify_on_open: false,
        },
    )
    .unwrap();
    let mut next = 1;
    while next <= records {
        let last = (next + BUILD_GROUP - 1).min(records);
        let batch = (next..=last)
            .map(|i| (Actor::System, built_rewrite(i)))
            .collect();
        for result in kernel.commit(batch) {
            result.unwrap();
        }
        // As a daemon would have: a snapshot now and then, so a past seq is found by
        // replaying from the nearest one before it, not from genesis.
        if last / SNAPSHOT_EVERY != (next - 1) / SNAPSHOT_EVERY {
            kernel.snapshot().unwrap();
        }
        next = last + 1;
    }
    kernel.snapshot().unwrap();
    eprintln!(
        "reads_during_writes: built {records} records in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    let mut kept: Vec<u64> = kernel
        .ledger()
        .snapshots()
        .unwrap()
        .iter()
        .map(|meta| meta.seq)
        .collect();
    kept.sort_unstable();
    kept
}

/// A daemon on its own runtime, serving `data_dir` until dropped.
struct Served {
    socket: PathBuf,
    /// The HTTP API's address.
    http: std::net::SocketAddr,
    runtime: tokio::runtime::Runtime,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<Result<(), jitosd::DaemonError>>>,
}

impl Served {
    fn start(dir: &Path) -> Served {
        let socket = dir.join("run/jitosd.sock");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let daemon = runtime
            .block_on(async {
                Daemon::start(DaemonConfig {
                    data_dir: dir.join("data"),
                    socket: socket.clone(),
                    snapshot_every: 100_000_000,
                    read_only: false,
                    clock: Arc::new(SystemClock),
                    workers: WorkerConfig {
                        // No job runs here; the directory only has to exist.
                        bin_dir: dir.to_owned(),
                        allow_unconfined: false,
                        policy: jitosd::WorkerPolicy::default(),
                        deadline_default_ms: 30_000,
                        warm: jitosd::WarmConfig::default(),
                        output_roots: Vec::new(),
                        models: jitosd::fetch::Models::default(),
                    },
                    library: Arc::new(jitosd::processes::load_library(None).unwrap()),
                    worker_slots: 1,
                    access: jitosd::Access::daemon_only(),
                    policy: None,
                    http: jitosd::http::HttpConfig {
                        tcp: Some(([127, 0, 0, 1], 0).into()),
                        socket: None,
                    },
                })
            })
            .unwrap();
        let http = daemon.http_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(daemon.serve(async {
            let _ = stopped.await;
        }));
        Served {
            socket,
            http,
            runtime,
            stop: Some(stop),
            served: Some(served),
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            let served = self.runtime.block_on(served);
            if !thread::panicking() {
                served.unwrap().unwrap();
            }
        }
    }
}

fn connect(socket: &Path) -> Client {
    Client::connect(socket, "bench").unwrap().unwrap()
}

/// Commits one rewrite adding a fresh node; returns how long the round trip took.
fn commit_one(client: &mut Client, next: &mut u64) -> Duration {
    *next += 1;
    let rewrite = one_op(Op::AddNode {
        id: NodeId::new(format!("w{next}")).unwrap(),
        kind: "W".to_owned(),
        attrs: Default::default(),
    });
    let started = Instant::now();
    let answer = client.call(&Request::ApplyRewrite(rewrite)).unwrap();
    let took = started.elapsed();
    assert!(matches!(answer, Response::Committed { .. }), "{answer:?}");
    took
}

#[derive(Clone, Copy)]
enum Read {
    ReplayVerify,
    Export,
}

/// Reads the whole ledger again and again until `stop`; counts the reads done.
fn read_until(socket: &Path, read: Read, stop: &AtomicBool, done: &AtomicU64) {
    let mut client = connect(socket);
    while !stop.load(Ordering::SeqCst) {
        match read {
            Read::ReplayVerify => match client.call(&Request::ReplayVerify).unwrap() {
                Response::Replay(report) => assert!(report.matches(), "{report:?}"),
                other => panic!("replay answered {other:?}"),
            },
            Read::Export => {
                client.send(&Request::Export { from: 0, to: None }).unwrap();
                loop {
                    match client.receive().unwrap() {
                        Response::ExportChunk { last: true, .. } => break,
                        Response::ExportChunk { .. } => {}
                        other => panic!("export answered {other:?}"),
                    }
                }
            }
        }
        done.fetch_add(1, Ordering::SeqCst);
    }
}

/// The `q`-quantile of `samples` (sorted here).
fn quantile(samples: &mut [Duration], q: f64) -> Duration {
    samples.sort_unstable();
    let index = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[index]
}

/// Commits `SUBSCRIBED_RATE` rewrites a second for `SUBSCRIBED_FOR` while a WebSocket
/// subscriber reads them: the lag of each from its commit's answer to its arrival, and how
/// many were committed.
fn subscription_lag(
    served: &Served,
    token: &str,
    client: &mut Client,
    next: &mut u64,
) -> (Vec<Duration>, usize) {
    use tungstenite::{client::IntoClientRequest as _, Message};
    let mut request = format!("ws://{}/graphql", served.http)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tungstenite::connect(request).unwrap();
    // The reader looks up now and then to see whether it is done.
    if let tungstenite::stream::MaybeTlsStream::Plain(tcp) = socket.get_ref() {
        tcp.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
    }
    let send = |socket: &mut tungstenite::WebSocket<_>, value: serde_json::Value| {
        socket
            .send(Message::Text(value.to_string().into()))
            .unwrap()
    };
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": {} }),
    );
    send(
        &mut socket,
        json!({ "id": "r", "type": "subscribe",
                "payload": { "query": "subscription { records { seq } }" } }),
    );
    thread::sleep(Duration::from_millis(300));
    let committed: std::sync::Mutex<std::collections::HashMap<u64, Instant>> = Default::default();
    let arrived: std::sync::Mutex<Vec<(u64, Instant)>> = Default::default();
    let done = AtomicBool::new(false);
    let mut sent = 0;
    thread::scope(|scope| {
        let (arrived, done) = (&arrived, &done);
        scope.spawn(move || {
            while !done.load(Ordering::SeqCst) {
                match socket.read() {
                    Ok(Message::Text(text)) => {
                        let message: serde_json::Value = serde_json::from_str(&text).unwrap();
                        if let Some(seq) = message["payload"]["data"]["records"]["seq"].as_u64() {
                            arrived.lock().unwrap().push((seq, Instant::now()));
                        }
                    }
                    Ok(_) => {}
                    Err(tungstenite::Error::Io(e))
                        if matches!(
                            e.kind(),
                            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                        ) => {}
                    Err(_) => return,
                }
            }
        });
        let started = Instant::now();
        let interval = Duration::from_secs(1) / SUBSCRIBED_RATE as u32;
        while started.elapsed() < SUBSCRIBED_FOR {
            let due = started + interval * sent as u32;
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                thread::sleep(wait);
            }
            *next += 1;
            let rewrite = one_op(Op::AddNode {
                id: NodeId::new(format!("s{next}")).unwrap(),
                kind: "S".to_owned(),
                attrs: Default::default(),
            });
            // From before the commit was asked: the record may reach the subscriber before
            // its answer reaches the committer.
            let asked = Instant::now();
            match client.call(&Request::ApplyRewrite(rewrite)).unwrap() {
                Response::Committed { seq, .. } => {
                    committed.lock().unwrap().insert(seq, asked);
                }
                other => panic!("{other:?}"),
            }
            sent += 1;
        }
        thread::sleep(Duration::from_secs(1));
        done.store(true, Ordering::SeqCst);
    });
    let committed = committed.into_inner().unwrap();
    let lags = arrived
        .into_inner()
        .unwrap()
        .into_iter()
        .filter_map(|(seq, at)| Some(at.saturating_duration_since(*committed.get(&seq)?)))
        .collect();
    (lags, sent)
}

/// How long pages of the graph at a past seq took.
struct PastPages {
    /// The first page, first asked.
    first: Duration,
    /// The first page asked again: p50, and how many times.
    again: Duration,
    again_count: usize,
    /// The pages after it, each from the cursor the one before gave: p50.
    following: Duration,
}

/// Reads pages of 100 nodes of the graph at `past` through GraphQL, checking each is of
/// the whole graph there.
fn past_pages(
    api: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    past: u64,
) -> PastPages {
    let page_at = |after: Option<&str>| -> (Duration, serde_json::Value) {
        let query = json!({
            "query": "query($at: Int!, $after: String) { graph(at: $at, first: 100, after: $after) \
                      { atSeq digest nodeCount nodes { id } next } }",
            "variables": { "at": past, "after": after },
        });
        let started = Instant::now();
        let body: serde_json::Value = http
            .post(url)
            .bearer_auth(token)
            .json(&query)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let took = started.elapsed();
        let page = body["data"]["graph"].clone();
        assert_eq!(page["atSeq"], past, "{body}");
        // Record i adds node n{i}, and nothing removes one: the whole graph at `past`
        // has `past` nodes, whichever page is asked.
        assert_eq!(page["nodeCount"], past, "{body}");
        assert_eq!(page["nodes"].as_array().map(Vec::len), Some(100), "{body}");
        (took, page)
    };
    // The first request builds the graph at `past`; what follows may reuse it.
    let (first, first_page) = page_at(None);
    let mut again = Vec::new();
    api.bench_function(name, |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let (took, page) = page_at(None);
                    assert_eq!(page, first_page);
                    again.push(took);
                    took
                })
                .sum()
        })
    });
    let mut following = Vec::new();
    let mut cursor = first_page["next"].as_str().map(str::to_owned);
    for _ in 0..FOLLOWING_PAGES {
        let (took, page) = page_at(cursor.as_deref());
        assert_eq!(page["digest"], first_page["digest"]);
        following.push(took);
        cursor = page["next"].as_str().map(str::to_owned);
    }
    PastPages {
        first,
        again: quantile(&mut again, 0.5),
        again_count: again.len(),
        following: quantile(&mut following, 0.5),
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let records = records();
    let snapshots = build_store(&dir.path().join("data"), records);
    let served = Served::start(dir.path());
    let mut client = connect(&served.socket);
    let mut next = 0u64;

    let mut group = c.benchmark_group("reads_during_writes");
    group.sample_size(50);
    group.measurement_time(Duration::from_secs(15));

    let mut idle = Vec::new();
    group.bench_function("single_rewrite_idle", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let took = commit_one(&mut client, &mut next);
                    idle.push(took);
                    took
                })
                .sum()
        })
    });

    let shown = node(records / 2);
    let mut node_latencies = Vec::new();
    group.bench_function("graph_show_one_node", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let started = Instant::now();
                    let view = client
                        .graph_show(None, Some(shown.as_str().to_owned()), None)
                        .unwrap()
                        .unwrap();
                    let took = started.elapsed();
                    assert_eq!(view.nodes.len(), 1);
                    assert_eq!(view.edges.len(), 2);
                    node_latencies.push(took);
                    took
                })
                .sum()
        })
    });

    let stop = AtomicBool::new(false);
    let (replays, exports) = (AtomicU64::new(0), AtomicU64::new(0));
    let mut busy = Vec::new();
    thread::scope(|scope| {
        let socket = served.socket.as_path();
        let (stop, replays, exports) = (&stop, &replays, &exports);
        scope.spawn(move || read_until(socket, Read::ReplayVerify, stop, replays));
        scope.spawn(move || read_until(socket, Read::Export, stop, exports));
        group.bench_function("single_rewrite_during_replay_and_export", |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let took = commit_one(&mut client, &mut next);
                        busy.push(took);
                        took
                    })
                    .sum()
            })
        });
        stop.store(true, Ordering::SeqCst);
    });
    group.finish();

    let token = match client
        .call(&Request::TokenCreate {
            name: "bench".to_owned(),
        })
        .unwrap()
    {
        Response::TokenCreated(created) => created.token,
        other => panic!("token create answered {other:?}"),
    };
    let http = reqwest::blocking::Client::new();
    let url = format!("http://{}/graphql", served.http);
    let mut api = c.benchmark_group("api");
    api.sample_size(10);
    // The middle seq, which the ledger's kept snapshots may all be after; and one half a
    // snapshot interval after the oldest kept one, rebuilt from it.
    let middle = records / 2;
    let after_snapshot = snapshots.first().map(|seq| seq + SNAPSHOT_EVERY / 2);
    let pasts = [
        Some(("graph_page_at_past_seq", middle)),
        after_snapshot
            .filter(|seq| *seq < records)
            .map(|seq| ("graph_page_after_a_snapshot", seq)),
    ];
    for (name, past) in pasts.into_iter().flatten() {
        let base = match snapshots.iter().rev().find(|seq| **seq <= past) {
            Some(seq) => format!("the snapshot at {seq}, then {} records", past - seq),
            None => format!("no snapshot at or before it is kept: {past} records from genesis"),
        };
        let pages = past_pages(&mut api, name, &http, &url, &token, past);
        println!(
            "api: a page of 100 nodes of the graph at seq {past} of {records} ({base}): first \
             request {:?}; the same page again p50 {:?} over {} requests; the \
             {FOLLOWING_PAGES} pages after it p50 {:?}",
            pages.first, pages.again, pages.again_count, pages.following,
        );
    }
    api.finish();
    let (mut lags, sent) = subscription_lag(&served, &token, &mut client, &mut next);
    println!(
        "api: records subscription, commits paced at up to {SUBSCRIBED_RATE}/s for \
         {SUBSCRIBED_FOR:?} ({:.0}/s reached): {} of {sent} pushed; lag from asking for the \
         commit to the subscriber p50 {:?}, p99 {:?}, max {:?}",
        sent as f64 / SUBSCRIBED_FOR.as_secs_f64(),
        lags.len(),
        quantile(&mut lags, 0.5),
        quantile(&mut lags, 0.99),
        quantile(&mut lags, 1.0),
    );

    let (idle_p50, busy_p50) = (quantile(&mut idle, 0.5), quantile(&mut busy, 0.5));
    let ratio = busy_p50.as_secs_f64() / idle_p50.as_secs_f64();
    println!(
        "reads_during_writes: {records} records; single rewrite p50 idle {idle_p50:?} \
         ({} samples), during replay --verify and export {busy_p50:?} ({} samples, {} \
         replays and {} exports completed); ratio {ratio:.2} (target <= {TARGET_RATIO}: {})",
        idle.len(),
        busy.len(),
        replays.load(Ordering::SeqCst),
        exports.load(Ordering::SeqCst),
        if ratio <= TARGET_RATIO {
            "met"
        } else {
            "MISSED"
        },
    );
    println!(
        "graph show --node: one node of {records}, p50 {:?} over {} requests (target <= 1 ms)",
        quantile(&mut node_latencies, 0.5),
        node_latencies.len()
    );
    // The tail, which the target does not bound, for context.
    println!(
        "reads_during_writes: p90 idle {:?}, during reads {:?}; p99 idle {:?}, during reads {:?}",
        quantile(&mut idle, 0.9),
        quantile(&mut busy, 0.9),
        quantile(&mut idle, 0.99),
        quantile(&mut busy, 0.99),
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
