//! Durable appends through the kernel thread with N concurrent appenders, beside a raw
//! RocksDB synced `WriteBatch` of N puts measured in the same run.
//!
//! With N appenders each waiting for its acknowledgement, group commit should put all N
//! into one synced write, so the kernel's cost per batch of N is compared with RocksDB's
//! cost for one synced batch of N records of the same size.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::{Arc, Barrier},
    thread,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jitos_kernel::{Kernel, KernelOptions, KernelService};
use jitos_ledger::{Actor, SystemClock};
use jitos_warp::{NodeId, Op, Rewrite, Value};

const APPENDERS: [usize; 4] = [1, 8, 64, 512];

fn rewrite(thread: usize, n: u64) -> Rewrite {
    let id = NodeId::new(format!("n{thread}")).unwrap();
    Rewrite {
        ops: vec![Op::SetAttr {
            node: id,
            key: "count".into(),
            value: Value::Int(n as i64),
        }],
        expect: Vec::new(),
    }
}

fn open_kernel(dir: &std::path::Path, appenders: usize) -> KernelService {
    let mut kernel = Kernel::open(
        dir,
        KernelOptions {
            clock: Arc::new(SystemClock),
            snapshot_every: 0,
            read_only: false,
            create_with_id: Some([7; 16]),
            verify_on_open: false,
        },
    )
    .unwrap();
    let setup = (0..appenders)
        .map(|t| {
            let rw = Rewrite {
                ops: vec![Op::AddNode {
                    id: NodeId::new(format!("n{t}")).unwrap(),
                    kind: "Counter".into(),
                    attrs: Default::default(),
                }],
                expect: Vec::new(),
            };
            (Actor::System, rw)
        })
        .collect();
    for result in kernel.commit(setup) {
        result.unwrap();
    }
    KernelService::start(kernel).unwrap()
}

/// `rounds` rounds in which every appender commits one rewrite and waits for it.
fn run_kernel(service: &KernelService, appenders: usize, rounds: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(appenders + 1));
    let workers: Vec<_> = (0..appenders)
        .map(|t| {
            let handle = service.handle();
            let barrier = barrier.clone();
            thread::spawn(move || {
                barrier.wait();
                for n in 0..rounds {
                    handle
                        .commit_blocking(Actor::System, rewrite(t, n))
                        .unwrap();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for worker in workers {
        worker.join().unwrap();
    }
    start.elapsed()
}

fn raw_db(dir: &std::path::Path) -> rocksdb::DB {
    let mut options = rocksdb::Options::default();
    options.create_if_missing(true);
    rocksdb::DB::open(&options, dir).unwrap()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("group_commit");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4));
    for appenders in APPENDERS {
        group.throughput(Throughput::Elements(appenders as u64));
        let dir = tempfile::tempdir().unwrap();
        let service = open_kernel(&dir.path().join("kernel"), appenders);
        group.bench_function(BenchmarkId::new("kernel", appenders), |b| {
            b.iter_custom(|rounds| run_kernel(&service, appenders, rounds));
        });
        service.stop();
        let db = raw_db(&dir.path().join("raw"));
        let mut write = rocksdb::WriteOptions::default();
        write.set_sync(true);
        let value = vec![0xA5u8; 180];
        let mut key = 0u64;
        group.bench_function(BenchmarkId::new("rocksdb_synced_batch", appenders), |b| {
            b.iter(|| {
                let mut batch = rocksdb::WriteBatch::default();
                for _ in 0..appenders {
                    key += 1;
                    batch.put(key.to_be_bytes(), &value);
                }
                db.write_opt(batch, &write).unwrap();
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
