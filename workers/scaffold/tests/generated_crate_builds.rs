//! The crate the scaffold worker proposes builds and passes its own test.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::{path::PathBuf, process::Command};

use jitos_treefs::{read_tree, write_tree, FetchError};
use jitos_worker::WorkerMessage;

use common::{artifact_blobs, run_jobs, sdk_dir, tree_after};

// Goal: what the worker proposes is a working worker, not just files. Method: run the
// real binary on an empty workspace, apply its rewrite, write the resulting tree with
// the artifacts as the blob source (as the daemon would from its store), then run
// `cargo test --offline` in the new crate and expect it to pass.
#[test]
fn the_generated_crate_passes_its_test() {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    std::fs::create_dir(&workspace).unwrap();
    let before = read_tree(&workspace).unwrap();
    let sdk = sdk_dir();
    let answers = run_jobs(
        scratch.path(),
        &workspace,
        false,
        &[vec![
            "echo-len".to_owned(),
            sdk.to_str().unwrap().to_owned(),
        ]],
    );
    let WorkerMessage::Proposal(proposal) = &answers[0] else {
        panic!("expected a proposal, got {:?}", answers[0])
    };
    let after = tree_after(&before, proposal);
    let blobs = artifact_blobs(proposal);
    let out = tempfile::tempdir().unwrap();
    write_tree(out.path(), &after, |refs| {
        refs.iter()
            .map(|r| {
                blobs
                    .get(r)
                    .cloned()
                    .ok_or_else(|| FetchError::from(format!("no artifact holds blob {r}")))
            })
            .collect()
    })
    .unwrap();
    let crate_dir = out.path().join("echo-len");
    // The workspace's lock file pins the same dependency versions the SDK is tested
    // with, and lets an offline build resolve without a registry.
    std::fs::copy(sdk.join("../Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/jitos-target"))
        .join("scaffolded");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["test", "--offline", "--quiet"])
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "cargo test failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "the generated test did not run\n{stdout}"
    );
}
