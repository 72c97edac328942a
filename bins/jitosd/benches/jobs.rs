//! Noop jobs end to end through a real daemon, with full durability: dispatch recorded,
//! worker spawned confined, proposal validated, applied and recorded. One at a time, and
//! 32 at once from 32 clients.
//!
//! The noop worker binary must be built in the same profile first (`cargo xtask bench`
//! does); the daemon finds it beside this bench's target directory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{path::PathBuf, sync::Arc, time::Duration};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jitos_proto::{AttemptState, Client, JobSpec, Request, Response};
use jitosd::{Daemon, DaemonConfig, WorkerConfig};

const CONCURRENT: usize = 32;

fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<bench> → target/<profile>
    exe.parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .to_owned()
}

fn run_noop(client: &mut Client, sws: u64) {
    let spec = JobSpec {
        worker: "noop".to_owned(),
        sws,
        args: Vec::new(),
        input: Vec::new(),
        deadline_ms: Some(30_000),
        paths: Vec::new(),
        wait: true,
    };
    match client.call(&Request::JobRun(spec)).unwrap() {
        Response::Job(view) => assert!(matches!(view.state, AttemptState::Done { .. }), "{view:?}"),
        other => panic!("{other:?}"),
    }
}

fn bench(c: &mut Criterion) {
    let bin_dir = profile_dir();
    assert!(
        bin_dir.join("jitos-worker-noop").is_file(),
        "build the noop worker first: cargo build --release -p jitos-worker-noop"
    );
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("run/jitosd.sock");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let daemon = runtime
        .block_on(async {
            Daemon::start(DaemonConfig {
                data_dir: dir.path().join("data"),
                socket: socket.clone(),
                snapshot_every: 100_000,
                read_only: false,
                clock: Arc::new(jitos_ledger::SystemClock),
                workers: WorkerConfig {
                    bin_dir,
                    allow_unconfined: false,
                    policy: jitosd::WorkerPolicy::default(),
                    deadline_default_ms: 30_000,
                },
                library: Arc::new(jitosd::processes::load_library(None).unwrap()),
                worker_slots: 8,
            })
        })
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = runtime.spawn(daemon.serve(async {
        let _ = stopped.await;
    }));
    let mut clients: Vec<Client> = (0..CONCURRENT)
        .map(|_| Client::connect(&socket, "bench").unwrap().unwrap())
        .collect();
    let sws = match clients[0]
        .call(&Request::SwsCreate {
            at: None,
            parent: None,
        })
        .unwrap()
    {
        Response::SwsRecorded { sws, .. } => sws,
        other => panic!("{other:?}"),
    };

    let mut group = c.benchmark_group("noop_jobs");
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(30);
    group.throughput(Throughput::Elements(1));
    group.bench_function("sequential", |b| b.iter(|| run_noop(&mut clients[0], sws)));
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.bench_function("concurrent_32", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for client in clients.iter_mut() {
                    scope.spawn(|| run_noop(client, sws));
                }
            });
        })
    });
    group.finish();
    drop(clients);
    let _ = stop.send(());
    runtime.block_on(served).unwrap();
}

criterion_group!(benches, bench);
criterion_main!(benches);
