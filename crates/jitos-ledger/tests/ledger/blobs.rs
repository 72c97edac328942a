//! Blobs: content addressing, deduplication, and corruption caught on read and by verify.

use jitos_ledger::{Hash, Ledger, ReadError};

use crate::common::{create_at, open_options, raw_db};

#[test]
fn blobs_round_trip_and_deduplicate() {
    // The same bytes stored twice give one hash and one stored entry; unknown hashes are None.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let first = ledger.put_blob(b"artifact bytes").unwrap();
    let second = ledger.put_blob(b"artifact bytes").unwrap();
    let other = ledger.put_blob(b"other bytes").unwrap();
    assert_eq!(first, second);
    assert_ne!(first, other);
    assert_eq!(first, Hash(*blake3::hash(b"artifact bytes").as_bytes()));
    assert_eq!(ledger.get_blob(&first).unwrap().unwrap(), b"artifact bytes");
    assert_eq!(ledger.get_blob(&Hash([1; 32])).unwrap(), None);
    drop(ledger);
    let db = raw_db(temp.path());
    let stored = db
        .iterator_cf(db.cf_handle("blobs").unwrap(), rocksdb::IteratorMode::Start)
        .count();
    assert_eq!(stored, 2);
}

#[test]
fn corrupted_blob_is_refused_and_reported() {
    // A blob whose stored bytes changed fails get_blob and is listed by verify;
    // putting the original bytes again repairs it.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let hash = ledger.put_blob(b"precious").unwrap();
    drop(ledger);
    {
        let db = raw_db(temp.path());
        db.put_cf(db.cf_handle("blobs").unwrap(), hash.0, b"tampered")
            .unwrap();
    }
    let mut ledger = Ledger::open(temp.path(), open_options(false, 0)).unwrap();
    assert!(matches!(ledger.get_blob(&hash), Err(ReadError::CorruptBlob { hash: h }) if h == hash));
    let report = ledger.verify(&mut |_| {}).unwrap();
    assert_eq!(report.bad_blob_count, 1);
    assert_eq!(report.bad_blobs[0].0, hash);
    assert_eq!(ledger.put_blob(b"precious").unwrap(), hash);
    assert_eq!(ledger.get_blob(&hash).unwrap().unwrap(), b"precious");
}
