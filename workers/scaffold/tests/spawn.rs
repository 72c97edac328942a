//! The real `jitos-worker-scaffold` binary, plain and confined: the crate it proposes,
//! its manifest, and its refusals.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::{fs, path::Path};

use jitos_tree::Entry;
use jitos_treefs::read_tree;
use jitos_worker::{Manifest, SandboxProfile, WorkerMessage};

use common::{artifact_blobs, run_jobs, sdk_dir, tree_after};

fn args(name: &str, sdk: &str) -> Vec<String> {
    vec![name.to_owned(), sdk.to_owned()]
}

/// Proposes `hello-2` into a workspace that already holds files, and checks the result.
fn proposes_a_new_crate(confined: bool) {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    fs::create_dir_all(workspace.join("other")).unwrap();
    fs::write(workspace.join("README"), "hello\n").unwrap();
    fs::write(workspace.join("other/x.rs"), "// x\n").unwrap();
    let before = read_tree(&workspace).unwrap();
    let sdk = sdk_dir();
    let answers = run_jobs(
        scratch.path(),
        &workspace,
        confined,
        &[args("hello-2", sdk.to_str().unwrap())],
    );
    let WorkerMessage::Proposal(proposal) = &answers[0] else {
        panic!("expected a proposal, got {:?}", answers[0])
    };
    assert_eq!(proposal.exit_status, 0);
    let after = tree_after(&before, proposal);

    // Everything that was there stays; exactly the new crate is added.
    for (path, entry) in &before.entries {
        assert_eq!(after.entries.get(path), Some(entry), "{path} changed");
    }
    let added: Vec<&str> = after
        .entries
        .keys()
        .filter(|p| !before.entries.contains_key(*p))
        .map(|p| p.as_str())
        .collect();
    assert_eq!(
        added,
        [
            "hello-2",
            "hello-2/Cargo.toml",
            "hello-2/src",
            "hello-2/src/lib.rs",
            "hello-2/src/main.rs",
            "hello-2/tests",
            "hello-2/tests/handler.rs",
            "hello-2/worker.toml",
        ]
    );

    // Each artifact is named after its file and holds exactly the blob the tree records.
    let blobs = artifact_blobs(proposal);
    for artifact in &proposal.artifacts {
        let path = artifact.name.strip_prefix("files/").unwrap();
        let Some(Entry::File { blob, size, .. }) =
            after.entries.get(&jitos_tree::TreePath::new(path).unwrap())
        else {
            panic!("artifact {} names no file of the tree", artifact.name)
        };
        assert_eq!(*blob, jitos_treefs::blob_ref(&artifact.bytes));
        assert_eq!(*size, artifact.bytes.len() as u64);
    }
    assert_eq!(blobs.len(), 5);

    let manifest = proposal
        .artifacts
        .iter()
        .find(|a| a.name == "files/hello-2/worker.toml")
        .unwrap();
    let manifest = Manifest::parse(
        std::str::from_utf8(&manifest.bytes).unwrap(),
        Path::new("hello-2/worker.toml"),
    )
    .unwrap();
    assert_eq!(manifest.name, "hello-2");
    assert_eq!(manifest.binary, "jitos-worker-hello-2");
    assert_eq!(manifest.sandbox_profile, SandboxProfile::Pure);
    let cargo = proposal
        .artifacts
        .iter()
        .find(|a| a.name == "files/hello-2/Cargo.toml")
        .unwrap();
    let cargo = String::from_utf8(cargo.bytes.clone()).unwrap();
    assert!(
        cargo.contains(&format!("{}/jitos-worker", sdk.display())),
        "{cargo}"
    );
}

// Goal: the worker proposes exactly the new crate's files as one rewrite that leaves the
// rest of the workspace alone, with a manifest the real parser accepts. Method: run it
// on a workspace with files, apply the rewrite to a graph recording that workspace, and
// compare the entries added.
#[test]
fn proposes_a_new_crate_unconfined() {
    proposes_a_new_crate(false);
}

// Goal: the same under the Pure confinement the daemon uses (it fails on a kernel that
// cannot confine, naming what is missing).
#[test]
fn proposes_a_new_crate_confined() {
    let status = jitos_sandbox::status();
    assert!(
        status.supported,
        "this kernel cannot confine workers: {status:?}"
    );
    proposes_a_new_crate(true);
}

// Goal: bad requests are refused with a reason naming the problem, and the worker goes
// on serving. Method: an existing name, bad names, a relative SDK path, a wrong arg count;
// then a good request as the positive control.
#[test]
fn bad_requests_are_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let workspace = scratch.path().join("workspace");
    fs::create_dir_all(workspace.join("taken")).unwrap();
    let sdk = sdk_dir();
    let sdk = sdk.to_str().unwrap();
    let cases = [
        (args("taken", sdk), "already exists"),
        (args("Upper", sdk), "not allowed"),
        (args("a/b", sdk), "not allowed"),
        (args("", sdk), "not allowed"),
        (args(&"x".repeat(65), sdk), "not allowed"),
        (args("fine", "relative/crates"), "absolute"),
        (args("fine", "/with\"quote"), "quote"),
        (vec!["fine".to_owned()], "two args"),
        (args("fine", sdk), ""),
    ];
    let jobs: Vec<Vec<String>> = cases.iter().map(|(a, _)| a.clone()).collect();
    let answers = run_jobs(scratch.path(), &workspace, false, &jobs);
    for ((job, expected), answer) in cases.iter().zip(answers) {
        match answer {
            WorkerMessage::Failure(f) if !expected.is_empty() => {
                assert!(f.reason.contains(expected), "{job:?}: {}", f.reason)
            }
            WorkerMessage::Proposal(_) if expected.is_empty() => {}
            other => panic!("{job:?}: unexpected {other:?}"),
        }
    }
}
