//! Tampering: one byte flipped in a stored record, behind the daemon's back, must be found
//! by `jitos verify`, must stop `jitosd` from starting, and must still be inspectable with
//! `jitosd --read-only`; a damaged snapshot is reported and never trusted.

use jitos_proto::StatusInfo;
use jitos_system_tests::{
    add_node, apply, assert_failure, assert_success, flip_stored_byte, status, stderr_text, Sandbox,
};

/// Flips a byte of the record or snapshot stored under `seq` (big-endian u64 key).
fn flip_byte(store: &std::path::Path, cf: &str, seq: u64) {
    flip_stored_byte(store, cf, &seq.to_be_bytes());
}

/// Rewrites committed before the tampering: records 1..=REWRITES after genesis.
const REWRITES: u64 = 6;
/// The record whose stored bytes are flipped: inside the chain, so the head and genesis
/// (which `open` checks on its own) stay intact and only a full walk can find it.
const TAMPERED_SEQ: u64 = 3;
/// Snapshot interval of the snapshot-tampering test: the store gets snapshots at 2, 4 and 6.
const SNAPSHOT_EVERY: &str = "2";

/// Builds a store of `REWRITES` rewrites through a daemon started with `extra` flags, stops
/// it with SIGTERM, and returns its last status.
fn build_store(sandbox: &Sandbox, extra: &[&str]) -> StatusInfo {
    let daemon = sandbox.start_with(extra);
    let mut client = daemon.client();
    for n in 0..REWRITES {
        apply(&mut client, add_node(&format!("t{n}"), "Tamper"));
    }
    let info = status(&mut client);
    assert_eq!(info.head_seq, REWRITES);
    drop(client);
    daemon.terminate();
    info
}

// Goal: a flipped byte in one record is named by verify, refuses a normal start, and is
// inspectable read-only. Method: build a store through the daemon, stop it, flip a byte of
// record TAMPERED_SEQ directly in RocksDB, then run the CLI and the daemon against it.
#[test]
fn flipped_record_byte_is_detected_and_refused() {
    let sandbox = Sandbox::new();
    build_store(&sandbox, &[]);
    flip_byte(&sandbox.store_dir(), "records", TAMPERED_SEQ);

    let text = assert_failure("jitos verify", &sandbox.jitos(&["verify"]));
    assert!(
        text.contains(&format!("BROKEN at seq {TAMPERED_SEQ}")),
        "verify does not name seq {TAMPERED_SEQ}:\n{text}"
    );

    let output = sandbox.jitos(&["--json", "verify"]);
    let json = assert_failure("jitos --json verify", &output);
    let view: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{json}"));
    assert_eq!(
        view["first_bad"][0].as_u64(),
        Some(TAMPERED_SEQ),
        "first_bad is wrong:\n{view:#}"
    );
    assert_eq!(view["head_seq"].as_u64(), Some(REWRITES), "{view:#}");
    assert_eq!(
        view["records_checked"].as_u64(),
        Some(TAMPERED_SEQ),
        "{view:#}"
    );

    let refused = sandbox.jitosd_until_exit(&[]);
    assert_failure("jitosd on a tampered store", &refused);
    let why = stderr_text(&refused);
    assert!(
        why.contains(&format!("sequence number {TAMPERED_SEQ}")) && why.contains("--read-only"),
        "jitosd's refusal names neither the seq nor --read-only:\n{why}"
    );

    let inspector = sandbox.start_with(&["--read-only"]);
    let info = status(&mut inspector.client());
    assert!(info.read_only, "{info:?}");
    assert_eq!(info.head_seq, REWRITES, "{info:?}");
    let shown = assert_success("jitos status (read-only)", &sandbox.jitos(&["status"]));
    assert!(
        shown.contains("read-only"),
        "status does not say read-only:\n{shown}"
    );
    inspector.terminate();
}

// Goal: damage to the newest record is as inspectable as damage inside the chain. Method:
// flip a byte of the head record, then ask verify to name it and jitosd --read-only to start.
#[test]
fn flipped_head_record_is_inspectable_read_only() {
    let sandbox = Sandbox::new();
    build_store(&sandbox, &[]);
    flip_byte(&sandbox.store_dir(), "records", REWRITES);

    let output = sandbox.jitos(&["--json", "verify"]);
    let text = assert_failure("jitos --json verify", &output);
    let view: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{text}"));
    assert_eq!(view["first_bad"][0].as_u64(), Some(REWRITES), "{view:#}");

    let inspector = sandbox.start_with(&["--read-only"]);
    assert!(status(&mut inspector.client()).read_only);
    inspector.terminate();
}

// Goal: a damaged snapshot is reported but costs only recovery time, never state. Method:
// build a store with periodic snapshots, flip a byte of the newest one, then check verify
// names it and a restarted daemon ignores it and recovers the same digest.
#[test]
fn flipped_snapshot_byte_is_reported_and_ignored() {
    let sandbox = Sandbox::new();
    let before = build_store(&sandbox, &["--snapshot-every", SNAPSHOT_EVERY]);
    // Snapshots are stored in the background, so the status taken while writing may
    // name an older one: the stopped store says which is newest.
    let offline = sandbox.jitos(&["--json", "status"]);
    let stored: StatusInfo = serde_json::from_slice(&offline.stdout).unwrap_or_else(|e| {
        panic!(
            "offline status printed no status ({e}):\n{}",
            String::from_utf8_lossy(&offline.stderr)
        )
    });
    let newest = stored
        .last_snapshot_seq
        .unwrap_or_else(|| panic!("no periodic snapshot was taken: {stored:?}"));
    flip_byte(&sandbox.store_dir(), "snapshots", newest);

    let output = sandbox.jitos(&["--json", "verify"]);
    let text = assert_failure("jitos --json verify", &output);
    let view: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("verify --json printed no JSON ({e}):\n{text}"));
    assert!(
        view["first_bad"].is_null(),
        "the chain itself is intact: {view:#}"
    );
    assert_eq!(
        view["bad_snapshots"][0][0].as_u64(),
        Some(newest),
        "{view:#}"
    );

    let daemon = sandbox.start();
    let after = status(&mut daemon.client());
    assert_eq!(
        (after.head_seq, &after.digest),
        (before.head_seq, &before.digest)
    );
    assert!(
        after
            .ignored_snapshots
            .iter()
            .any(|why| why.contains(&newest.to_string())),
        "status does not report the ignored snapshot: {after:?}"
    );
    daemon.terminate();
}
