//! Stores written by earlier versions of JITOS (`tests/fixtures/store-*`, made by
//! `tests/fixtures/make-store.sh`) open, verify and replay to the state they had, and take
//! new records: the ledger is the users' history, so a new version reads every old one.
#![allow(clippy::unwrap_used)]

use std::{fs, path::Path, sync::Arc};

use jitos_kernel::{
    decode_rewrite, encode_rewrite, AccessRefused, EffectRecord, JobRecord, PolicyRecord,
    ProcessRecord, SwsRecord, WritRecord, KIND_ACCESS_REFUSED, KIND_GENESIS,
    KIND_PROCESS_SUBMIT_V1, KIND_REWRITE, KIND_WORKER_INSTALL_V1, STATE_LAYOUT,
};
use jitos_ledger::{FixedClock, Ledger, OpenOptions};
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

/// Reads every record of the store in `dir` through its kind's durable payload type, and
/// checks each kind still written at the version the record has writes the same bytes
/// again: the frozen types are the layouts the fixture was written in.
fn check_payloads(dir: &Path) {
    let options = OpenOptions {
        read_only: true,
        clock: Arc::new(FixedClock(0)),
    };
    let ledger = Ledger::open(dir, options).unwrap();
    for record in ledger.range(0, ledger.head().seq) {
        let record = record.unwrap();
        let (kind, payload) = (record.kind.as_str(), record.payload.as_slice());
        let again = match kind {
            KIND_GENESIS => continue,
            KIND_REWRITE => encode_rewrite(&decode_rewrite(payload).unwrap()),
            KIND_WORKER_INSTALL_V1 => {
                // Read still; written now as worker.install@2.
                JobRecord::decode(kind, payload).unwrap();
                continue;
            }
            KIND_PROCESS_SUBMIT_V1 => {
                // Read still; written now as process.submit@2.
                ProcessRecord::decode(kind, payload).unwrap();
                continue;
            }
            kind if SwsRecord::is_kind(kind) => SwsRecord::decode(kind, payload).unwrap().encode(),
            kind if JobRecord::is_kind(kind) => JobRecord::decode(kind, payload).unwrap().encode(),
            kind if ProcessRecord::is_kind(kind) => {
                ProcessRecord::decode(kind, payload).unwrap().encode()
            }
            KIND_ACCESS_REFUSED => Ok(AccessRefused::decode(payload).unwrap().encode().unwrap()),
            kind if WritRecord::is_kind(kind) => {
                Ok(WritRecord::decode(kind, payload).unwrap().encode().unwrap())
            }
            kind if PolicyRecord::is_kind(kind) => Ok(PolicyRecord::decode(kind, payload)
                .unwrap()
                .encode()
                .unwrap()),
            kind if EffectRecord::is_kind(kind) => Ok(EffectRecord::decode(kind, payload)
                .unwrap()
                .encode()
                .unwrap()),
            jitos_kernel::KIND_JOB_FETCH => Ok(jitos_kernel::FetchRecord::decode(payload)
                .unwrap()
                .encode()
                .unwrap()),
            jitos_kernel::KIND_JOB_RULING => Ok(jitos_kernel::JobRuling::decode(payload)
                .unwrap()
                .encode()
                .unwrap()),
            kind if jitos_kernel::CollapseRecord::is_kind(kind) => {
                Ok(jitos_kernel::CollapseRecord::decode(kind, payload)
                    .unwrap()
                    .encode()
                    .unwrap())
            }
            jitos_kernel::KIND_JOB_CONNECT => Ok(jitos_kernel::ConnectRecord::decode(payload)
                .unwrap()
                .encode()
                .unwrap()),
            other => panic!("record {} has a kind no reader claims: {other}", record.seq),
        };
        assert_eq!(
            again.unwrap(),
            payload,
            "record {} ({kind}) is no longer written as it was",
            record.seq
        );
    }
}

/// The fixture `name`'s directory.
fn fixture_dir(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// What the fixture `name`'s generator recorded.
fn expected(name: &str) -> Expected {
    let text = fs::read_to_string(fixture_dir(name).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Opens the fixture `name`, whose snapshots are of state layout `snapshot_layout`,
/// through a real daemon and checks it whole.
fn check_fixture(name: &str, snapshot_layout: u32) {
    let expected = expected(name);
    let sandbox = Sandbox::new();
    copy_dir(&fixture_dir(name).join("store"), &sandbox.store_dir());
    check_payloads(&sandbox.store_dir());
    // A store written under a policy is opened under the same one: another would be
    // recorded as a change.
    let policy = fixture_dir(name).join("policy.toml");
    let flags: Vec<String> = match policy.exists() {
        true => vec!["--policy".to_owned(), policy.display().to_string()],
        false => Vec::new(),
    };
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let daemon = sandbox.start_with(&flags);

    let status = json(&sandbox, &["status"]);
    assert_eq!(status["head_seq"], expected.head_seq, "{status:#}");
    assert_eq!(status["digest"], expected.digest.as_str(), "{status:#}");
    let verify = json(&sandbox, &["verify"]);
    assert!(
        verify["first_bad"].is_null() && verify["bad_snapshots"] == serde_json::json!([]),
        "{verify:#}"
    );
    // A snapshot of this build's state layout is read; one of another is reported unread,
    // never bad: snapshots are caches and the records are folded instead.
    let unread = verify["unread_snapshots"].as_array().unwrap();
    assert_eq!(
        unread.is_empty(),
        snapshot_layout == STATE_LAYOUT,
        "{verify:#}"
    );
    assert_eq!(
        status["ignored_snapshots"].as_array().unwrap().is_empty(),
        snapshot_layout == STATE_LAYOUT,
        "{status:#}"
    );
    let replay = json(&sandbox, &["replay", "--verify"]);
    assert_eq!(
        replay["replayed_digest"],
        expected.digest.as_str(),
        "{replay:#}"
    );
    for part in [
        "workspaces_match",
        "jobs_match",
        "processes_match",
        "governance_match",
    ] {
        assert_eq!(replay[part], true, "{part}: {replay:#}");
    }
    assert!(replay["decision_mismatch"].is_null(), "{replay:#}");
    let log = json(&sandbox, &["log", "--limit", "10000"]);
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
    let _daemon = sandbox.start_with(&flags);
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
    check_fixture("store-v1", 1);
}

// Goal: a store written by the first version with versioned payloads (worker.install@2,
// snapshots bound by a digest of the whole state) opens, verifies and replays to the same
// digest, with every kind that version wrote. Method: the committed fixture `store-v2`,
// through a real daemon and CLI.
#[test]
fn a_store_of_the_second_format_opens_verifies_and_replays() {
    check_fixture("store-v2", 1);
    let mut written = kinds_before_access();
    written.sort_unstable();
    assert_eq!(expected("store-v2").kinds, written);
}

// Goal: a store written by the first version with access control (access.refused) opens,
// verifies and replays to the same digest, and holds every kind this build writes, so the
// fixture covers them all. Method: the committed fixture `store-v3`, through a real daemon
// and CLI.
#[test]
fn a_store_of_the_third_format_opens_verifies_and_replays() {
    check_fixture("store-v3", 3);
    let mut written = kinds_before_access();
    written.push(jitos_kernel::KIND_ACCESS_REFUSED);
    written.sort_unstable();
    assert_eq!(expected("store-v3").kinds, written);
}

// Goal: a store written by the first version with writs, the policy and approvals opens,
// verifies and replays to the same digest, with every kind that version wrote. Method: the
// committed fixture `store-v4`, through a real daemon and CLI.
#[test]
fn a_store_of_the_fourth_format_opens_verifies_and_replays() {
    check_fixture("store-v4", 4);
    let mut written = kinds_of_governance();
    written.sort_unstable();
    assert_eq!(expected("store-v4").kinds, written);
}

// Goal: a store written by the first version with effects (effect.begin, effect.end,
// process.unwind, process.submit@2) and writ.raise opens, verifies and replays to the same
// digest, and holds every kind this build writes, so the fixture covers them all. Method:
// the committed fixture `store-v5`, through a real daemon and CLI.
#[test]
fn a_store_of_the_fifth_format_opens_verifies_and_replays() {
    check_fixture("store-v5", 5);
    let mut written = kinds_of_effects();
    written.sort_unstable();
    assert_eq!(expected("store-v5").kinds, written);
}

/// Every kind written by the first version with effects.
fn kinds_of_effects() -> Vec<&'static str> {
    let mut written: Vec<&str> = kinds_of_governance()
        .into_iter()
        .filter(|kind| *kind != KIND_PROCESS_SUBMIT_V1)
        .collect();
    written.extend([
        jitos_kernel::KIND_PROCESS_SUBMIT_V2,
        jitos_kernel::KIND_EFFECT_BEGIN,
        jitos_kernel::KIND_EFFECT_END,
        jitos_kernel::KIND_PROCESS_UNWIND,
        jitos_kernel::KIND_WRIT_RAISE,
    ]);
    written
}

// Goal: a store written by the first version with agents (job.fetch with a body as a
// blob and a model call charged to a writ with egress, job.failed@2, job.connect, a
// feedback round) opens, verifies and replays to the same digest, and holds every kind
// this build writes, so the fixture covers them all. Method: the committed fixture
// `store-v6`, through a real daemon and CLI.
#[test]
fn a_store_of_the_sixth_format_opens_verifies_and_replays() {
    check_fixture("store-v6", 6);
    let mut written = kinds_of_agents();
    written.sort_unstable();
    assert_eq!(expected("store-v6").kinds, written);
}

/// Every kind written by the first version with agents.
fn kinds_of_agents() -> Vec<&'static str> {
    let mut written = kinds_of_effects();
    written.extend([
        jitos_kernel::KIND_JOB_FETCH,
        jitos_kernel::KIND_JOB_CONNECT,
        jitos_kernel::KIND_JOB_FAILED_V2,
    ]);
    written
}

// Goal: a store written by the first version with the policy at the collapse point (a
// public workspace's collapse ruled on, held, approved and committed by the vote) and on
// jobs outside processes (one allowed, one denied) opens,
// verifies and replays to the same digest, its rulings and votes folding to the same
// holds, and holds every kind this build writes. Method: the committed fixture
// `store-v7`, through a real daemon and CLI.
#[test]
fn a_store_of_the_seventh_format_opens_verifies_and_replays() {
    check_fixture("store-v7", 7);
    let mut written = kinds_of_collapse_policy();
    written.sort_unstable();
    assert_eq!(expected("store-v7").kinds, written);
}

/// Every kind written by the first version with the policy at the collapse point.
fn kinds_of_collapse_policy() -> Vec<&'static str> {
    let mut written = kinds_of_agents();
    written.extend([
        jitos_kernel::KIND_SWS_RULING,
        jitos_kernel::KIND_SWS_VOTE,
        jitos_kernel::KIND_JOB_RULING,
    ]);
    written
}

// Goal: a store written by the first version that records each process's environment
// (process.submit@3) opens, verifies and replays to the same digest — the fold checking
// each recorded environment's workers and policy — and holds every kind this build writes,
// so the fixture covers them all; its processes show their environments, and a process of
// an older store shows none. Method: the committed fixtures `store-v8` and `store-v7`,
// through a real daemon and CLI.
#[test]
fn a_store_of_the_eighth_format_opens_verifies_and_replays() {
    check_fixture("store-v8", 7);
    let mut written: Vec<&str> = kinds_of_collapse_policy()
        .into_iter()
        .filter(|kind| *kind != jitos_kernel::KIND_PROCESS_SUBMIT_V2)
        .collect();
    written.push(jitos_kernel::KIND_PROCESS_SUBMIT);
    written.sort_unstable();
    assert_eq!(
        expected("store-v8").kinds,
        written,
        "store-v8 lacks a kind this build writes"
    );

    for (name, recorded) in [("store-v8", true), ("store-v7", false)] {
        let sandbox = Sandbox::new();
        copy_dir(&fixture_dir(name).join("store"), &sandbox.store_dir());
        let policy = fixture_dir(name).join("policy.toml");
        let _daemon = sandbox.start_with(&["--policy", policy.to_str().unwrap()]);
        let processes = json(&sandbox, &["ps", "--all", "--limit", "1000"]);
        let first = processes["items"]
            .as_array()
            .and_then(|items| items.last())
            .unwrap_or_else(|| panic!("{name} has no process: {processes}"));
        let id = first["id"].as_u64().unwrap().to_string();
        let shown = json(&sandbox, &["inspect", &id]);
        assert_eq!(
            shown["environment"].is_array(),
            recorded,
            "{name}: {shown:#}"
        );
        let compared = json(&sandbox, &["diff", &id, &id]);
        assert_eq!(
            compared["a"]["environment_recorded"], recorded,
            "{compared:#}"
        );
    }
}

/// Every kind written by the first version with writs, the policy and approvals.
fn kinds_of_governance() -> Vec<&'static str> {
    let mut written = kinds_before_access();
    written.extend([
        jitos_kernel::KIND_ACCESS_REFUSED,
        jitos_kernel::KIND_WRIT_KEY,
        jitos_kernel::KIND_WRIT_ISSUE,
        jitos_kernel::KIND_WRIT_REVOKE,
        jitos_kernel::KIND_POLICY_LOAD,
        jitos_kernel::KIND_POLICY_DECISION,
        jitos_kernel::KIND_PROCESS_VOTE,
    ]);
    written
}

/// Every kind written by the version before access control.
fn kinds_before_access() -> Vec<&'static str> {
    vec![
        KIND_GENESIS,
        KIND_REWRITE,
        jitos_kernel::KIND_SWS_CREATE,
        jitos_kernel::KIND_SWS_APPLY,
        jitos_kernel::KIND_SWS_COLLAPSE,
        jitos_kernel::KIND_SWS_CONFLICT,
        jitos_kernel::KIND_SWS_REBASE,
        jitos_kernel::KIND_SWS_DISCARD,
        jitos_kernel::KIND_JOB_DISPATCH,
        jitos_kernel::KIND_JOB_DONE,
        jitos_kernel::KIND_JOB_FAILED,
        jitos_kernel::KIND_JOB_REFUSED,
        jitos_kernel::KIND_WORKER_INSTALL,
        KIND_PROCESS_SUBMIT_V1,
        jitos_kernel::KIND_PROCESS_LANE,
        jitos_kernel::KIND_PROCESS_RETRY,
        jitos_kernel::KIND_PROCESS_ASK,
        jitos_kernel::KIND_PROCESS_ANSWER,
        jitos_kernel::KIND_PROCESS_COLLAPSE,
        jitos_kernel::KIND_PROCESS_CONFLICT,
        jitos_kernel::KIND_PROCESS_DISCARD,
        jitos_kernel::KIND_PROCESS_ADVANCE,
        jitos_kernel::KIND_PROCESS_END,
    ]
}
