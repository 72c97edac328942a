//! Damage made directly through RocksDB is found: by verify, by reads, and never silently.

use jitos_ledger::{Ledger, OpenError, ReadError, VerifyEvent, VERIFY_PROGRESS_RECORDS};

use crate::common::{create_at, flip_stored_byte, open_options, raw_db, records};

fn ledger_with_records(dir: &std::path::Path, count: usize) {
    let mut ledger = create_at(dir, 1);
    ledger.append_batch(records(0, count)).unwrap();
}

#[test]
fn clean_ledger_verifies_clean() {
    // An undamaged ledger verifies with every record checked and nothing bad.
    let temp = tempfile::tempdir().unwrap();
    ledger_with_records(temp.path(), 12);
    let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    let report = ledger.verify(&mut |_| {}).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.records_checked, 13);
    assert_eq!(report.head, ledger.head());
}

#[test]
fn flipped_record_byte_is_reported_at_its_seq() {
    // Flipping one stored byte of record 7 (payload or hash) makes verify name seq 7 first.
    for index_from_end in [0, 40] {
        let temp = tempfile::tempdir().unwrap();
        ledger_with_records(temp.path(), 20);
        flip_stored_byte(temp.path(), "records", &7u64.to_be_bytes(), index_from_end);
        let ledger = Ledger::open(temp.path(), open_options(false, 0)).unwrap();
        let report = ledger.verify(&mut |_| {}).unwrap();
        let (seq, reason) = report.first_bad.clone().unwrap();
        assert_eq!(seq, 7, "{reason}");
        assert_eq!(report.records_checked, 7);
        assert!(!report.is_clean());
        assert!(matches!(
            ledger.get(7),
            Err(ReadError::CorruptRecord { seq: 7, .. })
        ));
        let ranged: Vec<_> = ledger.range(5, 10).collect();
        assert_eq!(ranged.len(), 3, "range stops at the corrupt record");
        assert!(ranged[2].is_err());
    }
}

#[test]
fn a_hole_in_the_chain_is_reported() {
    // A record deleted from under the head is reported as the first bad seq.
    let temp = tempfile::tempdir().unwrap();
    ledger_with_records(temp.path(), 10);
    {
        let db = raw_db(temp.path());
        db.delete_cf(db.cf_handle("records").unwrap(), 4u64.to_be_bytes())
            .unwrap();
    }
    let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    let report = ledger.verify(&mut |_| {}).unwrap();
    assert_eq!(report.first_bad.map(|(seq, _)| seq), Some(4));
    assert!(matches!(
        ledger.get(4),
        Err(ReadError::MissingRecord { seq: 4 })
    ));
}

#[test]
fn a_record_moved_to_another_key_is_reported() {
    // A valid record stored under the wrong seq fails (its seq and parent do not fit).
    let temp = tempfile::tempdir().unwrap();
    ledger_with_records(temp.path(), 10);
    {
        let db = raw_db(temp.path());
        let cf = db.cf_handle("records").unwrap();
        let three = db.get_cf(cf, 3u64.to_be_bytes()).unwrap().unwrap();
        db.put_cf(cf, 5u64.to_be_bytes(), three).unwrap();
    }
    let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    let report = ledger.verify(&mut |_| {}).unwrap();
    assert_eq!(report.first_bad.map(|(seq, _)| seq), Some(5));
}

#[test]
fn a_corrupt_head_is_refused_at_open() {
    // Open checks the head record, so a damaged head is an error naming the store, not a panic.
    let temp = tempfile::tempdir().unwrap();
    ledger_with_records(temp.path(), 3);
    flip_stored_byte(temp.path(), "records", &3u64.to_be_bytes(), 0);
    let error = Ledger::open(temp.path(), open_options(false, 0))
        .err()
        .unwrap();
    assert!(matches!(error, OpenError::Corrupt { .. }), "{error}");
    assert!(error.to_string().contains("head record 3"), "{error}");
}

#[test]
fn a_corrupt_head_or_genesis_opens_read_only_for_inspection() {
    // Read-only exists to inspect damage, so it opens past a damaged head or genesis record
    // and verify names the damaged seq.
    for damaged in [3u64, 0] {
        let temp = tempfile::tempdir().unwrap();
        ledger_with_records(temp.path(), 3);
        flip_stored_byte(temp.path(), "records", &damaged.to_be_bytes(), 0);
        let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
        assert_eq!(ledger.head().seq, 3);
        let report = ledger.verify(&mut |_| {}).unwrap();
        assert_eq!(report.first_bad.map(|(seq, _)| seq), Some(damaged));
    }
}

#[test]
fn verify_reports_progress() {
    // Verify emits a progress event every VERIFY_PROGRESS_RECORDS records.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let total = 2 * VERIFY_PROGRESS_RECORDS as usize + 5;
    for start in (0..total).step_by(4000) {
        ledger
            .append_batch(records(start, 4000.min(total - start)))
            .unwrap();
    }
    let mut progress = Vec::new();
    let report = ledger
        .verify(&mut |event| {
            if let VerifyEvent::Progress { seq } = event {
                progress.push(seq);
            }
        })
        .unwrap();
    assert!(report.is_clean());
    assert_eq!(
        progress,
        vec![VERIFY_PROGRESS_RECORDS, 2 * VERIFY_PROGRESS_RECORDS]
    );
}
