//! Snapshots: round trip, retention, refusals, and corruption found by load and verify.

use jitos_ledger::{AppendError, Ledger, SnapshotError, VerifyEvent, SNAPSHOTS_KEPT_MAX};

use crate::common::{create_at, flip_stored_byte, open_options, raw_db, records};

#[test]
fn put_then_load_round_trips() {
    // A stored snapshot loads back byte for byte, and its meta describes it.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 4)).unwrap();
    let state = b"graph state ".repeat(1000);
    ledger.put_snapshot(4, [9; 32], &state).unwrap();
    drop(ledger);
    let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    assert_eq!(ledger.load_snapshot(4).unwrap(), state);
    let metas = ledger.snapshots().unwrap();
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].seq, 4);
    assert_eq!(metas[0].digest, [9; 32]);
    assert_eq!(metas[0].state_bytes, state.len() as u64);
    assert!(
        metas[0].stored_bytes < metas[0].state_bytes,
        "repetitive state compresses"
    );
    assert!(matches!(
        ledger.load_snapshot(3),
        Err(SnapshotError::NotFound { seq: 3 })
    ));
}

#[test]
fn only_the_newest_are_kept_newest_first() {
    // After more snapshots than SNAPSHOTS_KEPT_MAX only the newest remain, listed newest first.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 10)).unwrap();
    for seq in [2u64, 4, 6, 8, 10] {
        ledger
            .put_snapshot(seq, [seq as u8; 32], &[seq as u8; 10])
            .unwrap();
    }
    let seqs: Vec<u64> = ledger.snapshots().unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs.len(), SNAPSHOTS_KEPT_MAX);
    assert_eq!(seqs, vec![10, 8, 6]);
    assert!(matches!(
        ledger.load_snapshot(2),
        Err(SnapshotError::NotFound { .. })
    ));
    let old = ledger.put_snapshot(1, [0; 32], b"old").err().unwrap();
    assert!(
        matches!(old, AppendError::SnapshotTooOld { oldest_kept: 6, .. }),
        "{old}"
    );
}

#[test]
fn snapshot_beyond_head_is_refused() {
    // A snapshot of a state the ledger has not reached is refused.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let error = ledger.put_snapshot(1, [0; 32], b"future").err().unwrap();
    assert!(matches!(
        error,
        AppendError::SnapshotBeyondHead { seq: 1, head: 0 }
    ));
    assert!(ledger.snapshots().unwrap().is_empty());
}

#[test]
fn corrupted_snapshot_fails_load_and_is_reported_by_verify() {
    // A flipped byte in a stored snapshot makes load fail and verify list it; a good one is
    // still handed to the verify callback.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 6)).unwrap();
    ledger
        .put_snapshot(3, [3; 32], &b"three".repeat(50))
        .unwrap();
    ledger.put_snapshot(6, [6; 32], &b"six".repeat(50)).unwrap();
    drop(ledger);
    flip_stored_byte(temp.path(), "snapshots", &6u64.to_be_bytes(), 2);
    let ledger = Ledger::open(temp.path(), open_options(false, 0)).unwrap();
    assert!(matches!(
        ledger.load_snapshot(6),
        Err(SnapshotError::Corrupt { seq: 6, .. })
    ));
    assert_eq!(ledger.load_snapshot(3).unwrap(), b"three".repeat(50));
    let mut handed = Vec::new();
    let report = ledger
        .verify(&mut |event| {
            if let VerifyEvent::Snapshot { meta, state } = event {
                handed.push((meta.seq, meta.digest, state.to_vec()));
            }
        })
        .unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.snapshots_checked, 1);
    assert_eq!(report.bad_snapshots.len(), 1);
    assert_eq!(report.bad_snapshots[0].0, 6);
    assert_eq!(handed, vec![(3, [3; 32], b"three".repeat(50))]);
}

#[test]
fn an_unreadable_snapshot_is_left_out_of_the_list() {
    // A snapshot value too short for its header is skipped by `snapshots` (so recovery can use
    // the others), refused by `load_snapshot`, and reported by verify.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 4)).unwrap();
    ledger.put_snapshot(2, [2; 32], b"two").unwrap();
    ledger.put_snapshot(4, [4; 32], b"four").unwrap();
    drop(ledger);
    {
        let db = raw_db(temp.path());
        db.put_cf(
            db.cf_handle("snapshots").unwrap(),
            4u64.to_be_bytes(),
            b"short",
        )
        .unwrap();
    }
    let ledger = Ledger::open(temp.path(), open_options(true, 0)).unwrap();
    let seqs: Vec<u64> = ledger.snapshots().unwrap().iter().map(|m| m.seq).collect();
    assert_eq!(seqs, vec![2]);
    assert!(matches!(
        ledger.load_snapshot(4),
        Err(SnapshotError::Corrupt { seq: 4, .. })
    ));
    let report = ledger.verify(&mut |_| {}).unwrap();
    assert_eq!(
        report
            .bad_snapshots
            .iter()
            .map(|(seq, _)| *seq)
            .collect::<Vec<_>>(),
        vec![4]
    );
    assert_eq!(report.snapshots_checked, 1);
}
