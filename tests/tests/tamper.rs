//! Tampering: one byte flipped in a stored record, behind the daemon's back, must be found
//! by `jitos verify`, must stop `jitosd` from starting, and must still be inspectable with
//! `jitosd --read-only`.

use std::path::Path;

use jitos_system_tests::{
    add_node, apply, assert_failure, assert_success, status, stderr_text, Sandbox,
};
use rocksdb::{Options, DB};

/// Rewrites committed before the tampering: records 1..=REWRITES after genesis.
const REWRITES: u64 = 6;
/// The record whose stored bytes are flipped: inside the chain, so the head and genesis
/// (which `open` checks on its own) stay intact and only a full walk can find it.
const TAMPERED_SEQ: u64 = 3;
/// Column families of a ledger store, as `docs/LEDGER_FORMAT.md` names them.
const COLUMN_FAMILIES: [&str; 4] = ["records", "blobs", "snapshots", "meta"];

// Goal: a flipped byte in one record is named by verify, refuses a normal start, and is
// inspectable read-only. Method: build a store through the daemon, stop it, flip a byte of
// record TAMPERED_SEQ directly in RocksDB, then run the CLI and the daemon against it.
#[test]
fn flipped_record_byte_is_detected_and_refused() {
    let sandbox = Sandbox::new();
    let daemon = sandbox.start();
    let mut client = daemon.client();
    for n in 0..REWRITES {
        apply(&mut client, add_node(&format!("t{n}"), "Tamper"));
    }
    assert_eq!(status(&mut client).head_seq, REWRITES);
    drop(client);
    daemon.terminate();

    flip_record_byte(&sandbox.store_dir(), TAMPERED_SEQ);

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

/// Flips one byte in the middle of record `seq`'s stored value, opening the store the way
/// the ledger lays it out (key: seq as big-endian u64).
fn flip_record_byte(store: &Path, seq: u64) {
    let options = Options::default();
    let present = DB::list_cf(&options, store).unwrap_or_else(|e| {
        panic!(
            "cannot list the column families of {}: {e}",
            store.display()
        )
    });
    for name in COLUMN_FAMILIES {
        assert!(
            present.iter().any(|p| p == name),
            "store lacks column family {name}: {present:?}"
        );
    }
    let db = DB::open_cf(&options, store, &present)
        .unwrap_or_else(|e| panic!("cannot open {} with RocksDB: {e}", store.display()));
    let records = db
        .cf_handle("records")
        .unwrap_or_else(|| panic!("no records column family"));
    let key = seq.to_be_bytes();
    let mut value = db
        .get_cf(records, key)
        .unwrap_or_else(|e| panic!("cannot read record {seq}: {e}"))
        .unwrap_or_else(|| panic!("record {seq} is not stored under its big-endian key"));
    let middle = value.len() / 2;
    value[middle] ^= 0x01;
    db.put_cf(records, key, &value)
        .unwrap_or_else(|e| panic!("cannot write record {seq} back: {e}"));
    // Flushed so the damage is in a table file, as bit rot would be, not only in the WAL.
    db.flush_cf(records)
        .unwrap_or_else(|e| panic!("cannot flush the records column family: {e}"));
}
