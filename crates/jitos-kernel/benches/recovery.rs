//! Recovery of a 1 M-record ledger: open with the newest snapshot and replay the tail,
//! with and without the full chain walk the daemon does before serving.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{sync::Arc, time::Duration};

use criterion::{criterion_group, criterion_main, Criterion};
use jitos_kernel::{Kernel, KernelOptions};
use jitos_ledger::{Actor, FixedClock};
use jitos_warp::{NodeId, Op, Rewrite, Value};

const RECORDS: u64 = 1_000_000;
const NODES: u64 = 100_000;
const SNAPSHOT_EVERY: u64 = 10_000;
const BATCH: u64 = 1024;

fn options(verify_on_open: bool) -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(1_700_000_000_000)),
        snapshot_every: SNAPSHOT_EVERY,
        read_only: false,
        create_with_id: Some([1; 16]),
        verify_on_open,
    }
}

/// The first NODES records add nodes; the rest set an attribute on one of them.
fn record(i: u64) -> Rewrite {
    let op = if i < NODES {
        Op::AddNode {
            id: NodeId::new(format!("node:{i}")).unwrap(),
            kind: "Item".into(),
            attrs: Default::default(),
        }
    } else {
        Op::SetAttr {
            node: NodeId::new(format!("node:{}", i % NODES)).unwrap(),
            key: "n".into(),
            value: Value::Int(i as i64),
        }
    };
    Rewrite {
        ops: vec![op],
        expect: Vec::new(),
    }
}

fn build(dir: &std::path::Path) {
    let mut kernel = Kernel::open(dir, options(false)).unwrap();
    let mut i = 0;
    while i < RECORDS - 1 {
        let end = (i + BATCH).min(RECORDS - 1);
        let batch = (i..end).map(|n| (Actor::System, record(n))).collect();
        for result in kernel.commit(batch) {
            result.unwrap();
        }
        i = end;
    }
    assert_eq!(kernel.head().seq, RECORDS - 1);
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    build(dir.path());
    let mut group = c.benchmark_group("recovery_1m_records");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.bench_function("snapshot_and_tail", |b| {
        b.iter(|| Kernel::open(dir.path(), options(false)).unwrap());
    });
    group.bench_function("full_chain_walk_then_recover", |b| {
        b.iter(|| Kernel::open(dir.path(), options(true)).unwrap());
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
