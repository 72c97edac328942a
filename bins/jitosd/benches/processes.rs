//! A 10-step intent of `noop` jobs end to end through a real daemon with full durability:
//! submit, plan, every decision and every attempt recorded and fsynced, each step run by
//! a confined warm noop instance, the workspace collapsed, the process ended. One at a time
//! (latency, with p50 and p99 printed) and 32 at once from 32 clients (throughput).
//!
//! The noop worker binary must be built in the same profile first (`cargo xtask bench`
//! does); the daemon finds it beside this bench's target directory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bench_daemon;
mod ten_noops;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jitos_proto::Client;
use jitosd::WarmConfig;

use bench_daemon::{connect, BenchDaemon};
use ten_noops::{run_ten_noops, ten_noops_library, STEPS};

const CONCURRENT: usize = 32;
/// Processes timed one by one for the percentiles.
const LATENCY_SAMPLES: usize = 200;

fn run_process(client: &mut Client) {
    if let Err(end) = run_ten_noops(client) {
        panic!("the bench process ended otherwise: {end}");
    }
}

fn bench(c: &mut Criterion) {
    let daemon = BenchDaemon::start(ten_noops_library(), CONCURRENT, WarmConfig::default());
    let socket = daemon.socket();

    // Latency, one process at a time.
    let mut client = connect(socket);
    let mut took: Vec<Duration> = (0..LATENCY_SAMPLES)
        .map(|_| {
            let started = Instant::now();
            run_process(&mut client);
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
        b.iter(|| run_process(&mut client))
    });
    let mut clients: Vec<Client> = (0..CONCURRENT).map(|_| connect(socket)).collect();
    group.throughput(Throughput::Elements((STEPS * CONCURRENT) as u64));
    group.bench_function("concurrent_32_processes", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for client in clients.iter_mut() {
                    scope.spawn(|| run_process(client));
                }
            });
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
