//! Spawning a worker binary fully confined against spawning it unconfined, in one run:
//! the brief's target is within 1.2×.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
// Asks for the effective uid with libc.
#![allow(unsafe_code)]

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use criterion::{criterion_group, criterion_main, Criterion};
use jitos_sandbox::{Confinement, Profile, Spawn, UidPool};

/// A small binary that exits at once.
const PROGRAM: &str = "/bin/true";

fn bench(c: &mut Criterion) {
    // A confined program never runs as root: as root, both sides run as one lent uid.
    // SAFETY: geteuid takes no arguments.
    let lent = (unsafe { libc::geteuid() } == 0)
        .then(|| UidPool::host().unwrap().lend().expect("a free uid"));
    let uid = lent.as_ref().map(|l| l.uid());
    let mut group = c.benchmark_group("spawn");
    group.bench_function("unconfined", |b| {
        b.iter(|| {
            let mut command = Command::new(PROGRAM);
            if let Some(uid) = uid {
                command.uid(uid).gid(uid);
            }
            let status = command.stdin(Stdio::null()).status().unwrap();
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
                let spawn = match uid {
                    Some(uid) => Spawn::new(PROGRAM).uid(uid),
                    None => Spawn::new(PROGRAM),
                };
                let status = confinement.spawn(spawn).unwrap().wait().unwrap();
                assert!(status.success());
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
