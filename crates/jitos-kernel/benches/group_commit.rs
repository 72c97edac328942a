//! Durable appends through the kernel thread with N concurrent appenders, beside a raw
//! RocksDB synced `WriteBatch` of N puts measured in the same run.
//!
//! With N appenders each waiting for its acknowledgement, group commit should put all N
//! into one synced write, so the kernel's cost per batch of N is compared with RocksDB's
//! cost for one synced batch of N records of the same size.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use jitos_kernel::{Kernel, KernelOptions, KernelService};
use jitos_ledger::{Actor, SystemClock};
use jitos_warp::{NodeId, Op, Rewrite, Value};
use tokio::runtime::Runtime;

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

/// `rounds` rounds in which every appender commits one rewrite and waits for it. The
/// appenders are tokio tasks, as the daemon's connections are: with OS threads, waking
/// 512 of them per batch on two cores would measure the scheduler, not the commit path.
fn run_kernel(
    runtime: &Runtime,
    service: &KernelService,
    appenders: usize,
    rounds: u64,
) -> Duration {
    runtime.block_on(async {
        let start = Instant::now();
        let tasks: Vec<_> = (0..appenders)
            .map(|t| {
                let handle = service.handle();
                tokio::spawn(async move {
                    for n in 0..rounds {
                        handle.commit(Actor::System, rewrite(t, n)).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        start.elapsed()
    })
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
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        group.bench_function(BenchmarkId::new("kernel", appenders), |b| {
            b.iter_custom(|rounds| run_kernel(&runtime, &service, appenders, rounds));
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
