//! Spawning a worker binary fully confined against spawning it unconfined, in one run:
//! the brief's target is within 1.2×.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use jitos_sandbox::{Confinement, Profile, Spawn};

/// A small binary that exits at once.
const PROGRAM: &str = "/bin/true";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn");
    group.bench_function("unconfined", |b| {
        b.iter(|| {
            let status = Command::new(PROGRAM).stdin(Stdio::null()).status().unwrap();
            assert!(status.success());
        });
    });
    for (name, profile) in [
        ("confined_pure", Profile::Pure),
        ("confined_shell", Profile::Shell),
    ] {
        let confinement = Confinement::new(profile);
        group.bench_function(name, |b| {
            b.iter(|| {
                let status = confinement
                    .spawn(Spawn::new(PROGRAM))
                    .unwrap()
                    .wait()
                    .unwrap();
                assert!(status.success());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
