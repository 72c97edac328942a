//! Spawning a worker binary fully confined against spawning it unconfined, in one run:
//! the brief's target is within 1.2×.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::{path::Path, process::Command};

use criterion::{criterion_group, criterion_main, Criterion};
use jitos_sandbox::{Confinement, Profile};

/// A small static-enough binary that exits at once.
const PROGRAM: &str = "/bin/true";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group.bench_function("unconfined", |b| {
        b.iter(|| {
            let status = Command::new(PROGRAM).status().unwrap();
            assert!(status.success());
        });
    });
    let confinement = Confinement::new(Profile::Pure);
    group.bench_function("confined_pure", |b| {
        b.iter(|| {
            let status = confinement
                .command(Path::new(PROGRAM), std::iter::empty::<&str>())
                .unwrap()
                .status()
                .unwrap();
            assert!(status.success());
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
