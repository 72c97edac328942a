//! Append benchmarks: ledger group commits vs a raw synced RocksDB batch, and one acknowledged
//! append vs one `write` + `fdatasync`, measured side by side in one run.
// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use jitos_ledger::{Actor, CreateOptions, FixedClock, Ledger, NewRecord};
use rocksdb::{WriteBatch, WriteOptions, DB};

/// Payload of each benchmarked record: small, like most kernel records.
const PAYLOAD_BYTES: usize = 100;
/// Batch sizes compared against the raw baseline.
const BATCH_SIZES: [usize; 4] = [1, 8, 64, 512];

fn new_record() -> NewRecord {
    NewRecord {
        kind: "bench.event".into(),
        actor: Actor::System,
        payload: vec![0xAB; PAYLOAD_BYTES],
    }
}

fn ledger_in(dir: &Path) -> Ledger {
    Ledger::create(
        dir,
        CreateOptions {
            store_id: [7; 16],
            clock: Arc::new(FixedClock(1_700_000_000_000)),
        },
    )
    .unwrap()
}

/// A plain RocksDB with the ledger's own options, for the baseline.
fn raw_db_in(dir: &Path) -> DB {
    let mut options = jitos_ledger::rocksdb_options();
    options.create_if_missing(true);
    DB::open(&options, dir).unwrap()
}

fn synced() -> WriteOptions {
    let mut options = WriteOptions::default();
    options.set_sync(true);
    options
}

/// Bytes the ledger stores per benchmarked record, so the baseline writes the same amount.
fn stored_record_bytes(ledger: &mut Ledger) -> usize {
    let record = ledger.append_batch(vec![new_record()]).unwrap().remove(0);
    bincode::serde::encode_to_vec(&record, bincode::config::standard())
        .unwrap()
        .len()
}

fn group_commit(c: &mut Criterion) {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = ledger_in(&temp.path().join("ledger"));
    let db = raw_db_in(&temp.path().join("raw"));
    let value = vec![0xAB; stored_record_bytes(&mut ledger)];
    let sync = synced();
    let mut raw_seq = 0u64;

    let mut group = c.benchmark_group("ledger_group_commit");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for size in BATCH_SIZES {
        group.throughput(Throughput::Elements(size as u64));
        group.bench_with_input(BenchmarkId::new("ledger", size), &size, |b, &size| {
            b.iter_batched(
                || vec![new_record(); size],
                |batch| ledger.append_batch(batch).unwrap(),
                BatchSize::SmallInput,
            );
        });
        group.bench_with_input(
            BenchmarkId::new("rocksdb_synced_batch", size),
            &size,
            |b, &size| {
                b.iter(|| {
                    let mut batch = WriteBatch::default();
                    for _ in 0..size {
                        raw_seq += 1;
                        batch.put(raw_seq.to_be_bytes(), &value);
                    }
                    db.write_opt(batch, &sync).unwrap();
                });
            },
        );
    }
    group.finish();
}

fn single_append(c: &mut Criterion) {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = ledger_in(&temp.path().join("ledger"));
    let mut file: File = OpenOptions::new()
        .create(true)
        .append(true)
        .open(temp.path().join("fdatasync.log"))
        .unwrap();
    let bytes = vec![0xAB; PAYLOAD_BYTES];

    let mut group = c.benchmark_group("single_append");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.throughput(Throughput::Elements(1));
    group.bench_function("ledger", |b| {
        b.iter_batched(
            || vec![new_record()],
            |batch| ledger.append_batch(batch).unwrap(),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("write_fdatasync", |b| {
        b.iter(|| {
            file.write_all(&bytes).unwrap();
            file.sync_data().unwrap();
        });
    });
    group.finish();
}

criterion_group!(benches, group_commit, single_append);
criterion_main!(benches);
