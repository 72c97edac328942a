//! A 10-step intent of `noop` jobs end to end through a real daemon with full durability:
//! submit, plan, every decision and every attempt recorded and fsynced, each step's
//! worker spawned confined, the workspace collapsed, the process ended. One at a time
//! (latency, with p50 and p99 printed) and 32 at once from 32 clients (throughput).
//!
//! The noop worker binary must be built in the same profile first (`cargo xtask bench`
//! does); the daemon finds it beside this bench's target directory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bench_daemon;

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jitos_proto::{Client, Request, Response};

use bench_daemon::{connect, BenchDaemon};

const CONCURRENT: usize = 32;
const STEPS: usize = 10;
/// Processes timed one by one for the percentiles.
const LATENCY_SAMPLES: usize = 200;

/// Ten sequential noop steps.
fn library() -> String {
    let steps: Vec<String> = (0..STEPS)
        .map(|i| format!("{{ task = \"noop_step\", id = \"s{i}\" }}"))
        .collect();
    format!(
        "[task.ten_noops]\n[[task.ten_noops.method]]\nname = \"in_order\"\nsteps = [{}]\n\
         [task.noop_step]\nrun = {{ worker = \"noop\", effect = \"none\", timeout_secs = 30 }}\n",
        steps.join(", ")
    )
}

const INTENT: &str = "goal = \"ten_noops\"\n[allow]\nworkers = [\"noop\"]\n";

/// Submits one process and waits for its end, following its records as they commit.
fn run_process(client: &mut Client, follower: &mut Client) {
    let process = match client
        .call(&Request::ProcessSubmit {
            intent: INTENT.to_owned(),
            path: "bench.toml".to_owned(),
        })
        .unwrap()
    {
        Response::ProcessSubmitted { process, .. } => process,
        other => panic!("{other:?}"),
    };
    follower.send(&Request::Follow { from: process }).unwrap();
    let end = format!("process {process} ended: Done");
    loop {
        match follower.receive().unwrap() {
            Response::Records(records) => {
                if records
                    .iter()
                    .any(|r| r.kind == "process.end" && r.summary == end)
                {
                    break;
                }
                if let Some(r) = records.iter().find(|r| {
                    r.kind == "process.end" && r.summary.starts_with(&format!("process {process} "))
                }) {
                    panic!("the bench process ended otherwise: {}", r.summary);
                }
            }
            other => panic!("{other:?}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let library =
        jitosd::processes::load_library_with(&[(PathBuf::from("bench.toml"), library())]).unwrap();
    let daemon = BenchDaemon::start(library, CONCURRENT);
    let socket = daemon.socket();

    // Latency, one process at a time: each with a fresh follower (a follow stream ends
    // only when its client hangs up).
    let mut client = connect(socket);
    let mut took: Vec<Duration> = (0..LATENCY_SAMPLES)
        .map(|_| {
            let mut follower = connect(socket);
            let started = Instant::now();
            run_process(&mut client, &mut follower);
            started.elapsed()
        })
        .collect();
    took.sort_unstable();
    let at = |q: f64| took[((took.len() as f64 * q) as usize).min(took.len() - 1)];
    println!(
        "processes/sequential: {} processes of {STEPS} noop steps: p50 {:.2} ms, p99 {:.2} ms, {:.0} steps/s",
        took.len(),
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        STEPS as f64 / at(0.50).as_secs_f64()
    );

    let mut group = c.benchmark_group("processes");
    group.measurement_time(Duration::from_secs(10));
    group.sample_size(20);
    group.throughput(Throughput::Elements(STEPS as u64));
    group.bench_function("sequential_10_steps", |b| {
        b.iter(|| {
            let mut follower = connect(socket);
            run_process(&mut client, &mut follower)
        })
    });
    let mut clients: Vec<Client> = (0..CONCURRENT).map(|_| connect(socket)).collect();
    group.throughput(Throughput::Elements((STEPS * CONCURRENT) as u64));
    group.bench_function("concurrent_32_processes", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for client in clients.iter_mut() {
                    scope.spawn(|| {
                        let mut follower = connect(socket);
                        run_process(client, &mut follower)
                    });
                }
            });
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
