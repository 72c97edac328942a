//! Noop jobs end to end through a real daemon, with full durability: dispatch recorded,
//! the job run by a confined warm noop instance, proposal validated, applied and
//! recorded. One at a time, and 32 at once from 32 clients (all in one workspace, whose
//! warm instances take one job each at a time).
//!
//! The noop worker binary must be built in the same profile first (`cargo xtask bench`
//! does); the daemon finds it beside this bench's target directory.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bench_daemon;
mod noop_job;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use jitos_proto::Client;

use bench_daemon::{connect, BenchDaemon};
use noop_job::{create_sws, run_noop};

const CONCURRENT: usize = 32;

fn bench(c: &mut Criterion) {
    let daemon = BenchDaemon::start(
        jitosd::processes::load_library(None).unwrap(),
        8,
        jitosd::WarmConfig::default(),
    );
    let mut clients: Vec<Client> = (0..CONCURRENT).map(|_| connect(daemon.socket())).collect();
    let sws = create_sws(&mut clients[0]);

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
}

criterion_group!(benches, bench);
criterion_main!(benches);
