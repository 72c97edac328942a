//! Stores written by earlier versions of JITOS (`tests/fixtures/store-*`, made by
//! `tests/fixtures/make-store.sh`) open, verify and replay to the state they had, and take
//! new records: the ledger is the users' history, so a new version reads every old one.
#![allow(clippy::unwrap_used)]

use std::{fs, path::Path};

use jitos_system_tests::{assert_success, Sandbox};

/// What a fixture's generator saw before it stopped the daemon.
#[derive(serde::Deserialize)]
struct Expected {
    head_seq: u64,
    digest: String,
    kinds: Vec<String>,
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn json(sandbox: &Sandbox, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend(args);
    let text = assert_success(&args.join(" "), &sandbox.jitos(&all));
    serde_json::from_str(&text).unwrap()
}

/// Opens the fixture `name` through a real daemon and checks it whole.
fn check_fixture(name: &str) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name);
    let expected: Expected =
        serde_json::from_str(&fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap();
    let sandbox = Sandbox::new();
    copy_dir(&fixture.join("store"), &sandbox.store_dir());
    let daemon = sandbox.start();

    let status = json(&sandbox, &["status"]);
    assert_eq!(status["head_seq"], expected.head_seq, "{status:#}");
    assert_eq!(status["digest"], expected.digest.as_str(), "{status:#}");
    let verify = json(&sandbox, &["verify"]);
    assert!(
        verify["first_bad"].is_null() && verify["bad_snapshots"] == serde_json::json!([]),
        "{verify:#}"
    );
    let replay = json(&sandbox, &["replay", "--verify"]);
    assert_eq!(
        replay["replayed_digest"],
        expected.digest.as_str(),
        "{replay:#}"
    );
    for part in ["workspaces_match", "jobs_match", "processes_match"] {
        assert_eq!(replay[part], true, "{part}: {replay:#}");
    }
    assert!(replay["decision_mismatch"].is_null(), "{replay:#}");
    let log = json(&sandbox, &["log", "--limit", "100000"]);
    let mut kinds: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, expected.kinds);

    // It takes new records, and comes back with them.
    assert_success(
        "a rewrite on the old store",
        &sandbox.jitos_with_stdin(
            &["rewrite", "apply", "-"],
            br#"{"ops":[{"add_node":{"id":"after:upgrade","kind":"Note"}}]}"#,
        ),
    );
    daemon.terminate();
    let _daemon = sandbox.start();
    let status = json(&sandbox, &["status"]);
    assert_eq!(status["head_seq"], expected.head_seq + 1, "{status:#}");
    let replay = json(&sandbox, &["replay", "--verify"]);
    assert_eq!(replay["replayed_digest"], status["digest"], "{replay:#}");
}

// Goal: a store written by the version before the kernel's records were versioned opens,
// verifies and replays to the same digest, with every record kind it wrote. Method: the
// committed fixture `store-v1`, through a real daemon and CLI.
#[test]
fn a_store_of_the_first_format_opens_verifies_and_replays() {
    check_fixture("store-v1");
}
