//! A synced write that fails for real rolls the kernel back: nobody is acknowledged, the
//! head and the digest are what they were before.
//!
//! The failure is a real `EFBIG` from the file system, provoked by lowering this process's
//! file-size limit below the write-ahead log's next write. The limit is process-wide, so
//! this file holds exactly one test and runs as its own process.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// One unsafe call: ignoring SIGXFSZ, which nix marks unsafe because handlers can be.
#![allow(unsafe_code)]

use std::{fs, path::Path, sync::Arc};

use jitos_kernel::{CommitError, Kernel, KernelOptions};
use jitos_ledger::{Actor, FixedClock};
use jitos_warp::Rewrite;
use nix::sys::resource::{getrlimit, setrlimit, Resource};
use nix::sys::signal::{signal, SigHandler, Signal};

fn options() -> KernelOptions {
    KernelOptions {
        clock: Arc::new(FixedClock(1_700_000_000_000)),
        snapshot_every: 0,
        read_only: false,
        create_with_id: Some([3; 16]),
        verify_on_open: true,
    }
}

fn add(id: &str, padding: usize) -> Rewrite {
    let title = "x".repeat(padding);
    Rewrite::from_json(&format!(
        r#"{{"ops":[{{"add_node":{{"id":"{id}","kind":"T","attrs":{{"title":"{title}"}}}}}}]}}"#
    ))
    .unwrap()
}

fn largest_file(dir: &Path) -> u64 {
    fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .max()
        .unwrap()
}

// Goal: "if the write fails, in-memory state is rolled back and callers get an error".
// Method: commit a little, cap the file size just above every file in the store, then commit
// a group too large to fit; the WAL append fails with EFBIG. Positive control: the same
// kernel committed fine before the cap, and the group is refused only by the write.
#[test]
fn failed_synced_write_rolls_back_every_rewrite_of_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = Kernel::open(dir.path(), options()).unwrap();
    let before: Vec<_> = kernel.commit(vec![(Actor::System, add("kept", 10))]);
    assert!(
        before[0].is_ok(),
        "control: a commit succeeds before the cap"
    );
    let head = kernel.head();
    let digest = kernel.graph().digest();
    let nodes = kernel.graph().node_count();

    // Without SIG_IGN, exceeding RLIMIT_FSIZE kills the process instead of failing the write.
    // SAFETY: ignoring a signal installs no handler code.
    unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) }.unwrap();
    let (_, hard) = getrlimit(Resource::RLIMIT_FSIZE).unwrap();
    let cap = largest_file(dir.path()) + 4096;
    setrlimit(Resource::RLIMIT_FSIZE, cap, hard).unwrap();

    let group = (0..8)
        .map(|i| (Actor::System, add(&format!("lost{i}"), 64 * 1024)))
        .collect();
    let results = kernel.commit(group);

    assert_eq!(results.len(), 8);
    for result in &results {
        assert!(
            matches!(result, Err(CommitError::Storage(_))),
            "every rewrite of the group gets the write error: {result:?}"
        );
    }
    assert_eq!(kernel.head(), head, "the head did not move");
    assert_eq!(kernel.graph().digest(), digest, "the graph was rolled back");
    assert_eq!(kernel.graph().node_count(), nodes);
    assert!(kernel.graph().node("lost0").is_none());
}
