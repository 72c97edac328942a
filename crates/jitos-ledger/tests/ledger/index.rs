//! The index: entries written with their records, scanned per key in seq order within the
//! reader's head, and a store whose index fell behind (or never had one) says so.

use jitos_ledger::{AppendError, Head, IndexEntry, Ledger};

use crate::common::{create_at, open_options, raw_db, records};

fn entry(key: &[u8], seq: u64, value: &[u8]) -> IndexEntry {
    IndexEntry {
        key: key.to_vec(),
        seq,
        value: value.to_vec(),
    }
}

fn seqs(found: &[(u64, Vec<u8>)]) -> Vec<u64> {
    found.iter().map(|(seq, _)| *seq).collect()
}

// Goal: entries appended with their records are found under their key only, in seq order,
// paged by `after` and `limit`, with their values; a key that is a prefix of another is its
// own key. Method: three batches indexing two keys, "a" and "ab", then scans.
#[test]
fn entries_are_scanned_per_key_in_order_and_paged() {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    assert!(ledger.indexed(), "a new store starts indexed");
    ledger
        .append_indexed(
            records(0, 2),
            &[],
            Some(&[entry(b"a", 1, b"one"), entry(b"ab", 2, b"")]),
        )
        .unwrap();
    ledger
        .append_indexed(records(2, 1), &[], Some(&[entry(b"a", 3, b"three")]))
        .unwrap();
    ledger
        .append_indexed(records(3, 1), &[], Some(&[]))
        .unwrap();
    ledger
        .append_indexed(records(4, 1), &[], Some(&[entry(b"a", 5, b"five")]))
        .unwrap();
    assert!(ledger.indexed());

    let all = ledger.index_scan(b"a", None, usize::MAX).unwrap();
    assert_eq!(seqs(&all), [1, 3, 5]);
    assert_eq!(all[1].1, b"three");
    assert_eq!(seqs(&ledger.index_scan(b"ab", None, 10).unwrap()), [2]);
    assert_eq!(seqs(&ledger.index_scan(b"a", Some(1), 1).unwrap()), [3]);
    assert_eq!(seqs(&ledger.index_scan(b"a", Some(3), 10).unwrap()), [5]);
    assert!(ledger.index_scan(b"a", Some(5), 10).unwrap().is_empty());
    assert!(ledger.index_scan(b"b", None, 10).unwrap().is_empty());

    // A reader at an older head sees no entry beyond it.
    let third = ledger.get(3).unwrap().unwrap();
    let reader = ledger.reader_at(Head {
        seq: third.seq,
        hash: third.hash,
    });
    assert_eq!(seqs(&reader.index_scan(b"a", None, 10).unwrap()), [1, 3]);
    assert!(reader.indexed());
}

// Goal: an entry naming a record beyond its batch is refused and nothing of the batch is
// written, while one naming an earlier record is taken (an ended thing is filed under the
// record that began it). Method: a batch at seq 2 with an entry for seq 3, then one for 1.
#[test]
fn an_entry_beyond_its_batch_is_refused_and_an_earlier_one_taken() {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger
        .append_indexed(records(0, 1), &[], Some(&[entry(b"k", 1, b"")]))
        .unwrap();
    let refused = ledger
        .append_indexed(records(1, 1), &[], Some(&[entry(b"k", 3, b"")]))
        .unwrap_err();
    assert!(
        matches!(refused, AppendError::IndexEntryBeyond { seq: 3, last: 2 }),
        "{refused}"
    );
    assert_eq!(ledger.head().seq, 1);
    assert_eq!(seqs(&ledger.index_scan(b"k", None, 10).unwrap()), [1]);

    ledger
        .append_indexed(records(1, 1), &[], Some(&[entry(b"e", 1, b"ended")]))
        .unwrap();
    let found = ledger.index_scan(b"e", None, 10).unwrap();
    assert_eq!(found, [(1, b"ended".to_vec())]);
}

// Goal: a backward scan gives a key's entries newest first, below the cursor, within the
// reader's head and the limit. Method: entries at 1, 3, 5 under "a"; scans from several
// cursors, and from a reader at head 3.
#[test]
fn entries_are_scanned_back_newest_first() {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger
        .append_indexed(
            records(0, 5),
            &[],
            Some(&[
                entry(b"a", 1, b""),
                entry(b"a", 3, b""),
                entry(b"a", 5, b""),
            ]),
        )
        .unwrap();
    assert_eq!(
        seqs(&ledger.index_scan_back(b"a", None, 10).unwrap()),
        [5, 3, 1]
    );
    assert_eq!(
        seqs(&ledger.index_scan_back(b"a", Some(5), 10).unwrap()),
        [3, 1]
    );
    assert_eq!(
        seqs(&ledger.index_scan_back(b"a", Some(4), 1).unwrap()),
        [3]
    );
    assert!(ledger
        .index_scan_back(b"a", Some(1), 10)
        .unwrap()
        .is_empty());
    assert!(ledger
        .index_scan_back(b"a", Some(0), 10)
        .unwrap()
        .is_empty());
    assert!(ledger.index_scan_back(b"b", None, 10).unwrap().is_empty());
    let third = ledger.get(3).unwrap().unwrap();
    let reader = ledger.reader_at(Head {
        seq: third.seq,
        hash: third.hash,
    });
    assert_eq!(
        seqs(&reader.index_scan_back(b"a", None, 10).unwrap()),
        [3, 1]
    );
    assert_eq!(
        seqs(&reader.index_scan_back(b"a", Some(9), 10).unwrap()),
        [3, 1]
    );
}

// Goal: an append without index entries leaves the index behind, it stays behind across a
// reopen, later indexed appends do not claim it complete, and `put_index` completes it.
// Method: indexed, unindexed, indexed appends; check `indexed` at each step and after reopen.
#[test]
fn an_unindexed_append_leaves_the_index_behind_until_built() {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger
        .append_indexed(records(0, 1), &[], Some(&[entry(b"k", 1, b"")]))
        .unwrap();
    ledger.append_batch(records(1, 1)).unwrap();
    assert!(!ledger.indexed());
    ledger
        .append_indexed(records(2, 1), &[], Some(&[entry(b"k", 3, b"")]))
        .unwrap();
    assert!(
        !ledger.indexed(),
        "entries after a gap do not complete the index"
    );
    assert_eq!(seqs(&ledger.index_scan(b"k", None, 10).unwrap()), [1]);
    drop(ledger);

    let mut ledger = Ledger::open(temp.path(), open_options(false, 2)).unwrap();
    assert!(!ledger.indexed());
    ledger
        .put_index(&[entry(b"k", 2, b""), entry(b"k", 3, b"")], 3)
        .unwrap();
    assert!(ledger.indexed());
    assert_eq!(seqs(&ledger.index_scan(b"k", None, 10).unwrap()), [1, 2, 3]);
    let beyond = ledger.put_index(&[], 4).unwrap_err();
    assert!(
        matches!(
            beyond,
            AppendError::IndexBeyondHead {
                through: 4,
                head: 3
            }
        ),
        "{beyond}"
    );
}

// Goal: a store written before the index (no `index` column family) opens read-only
// without one (not indexed, scans empty) and gains it at a writable open, unindexed until
// built. Method: drop the column family and `index_through` through RocksDB, then open both
// ways.
#[test]
fn a_store_without_the_index_opens_and_gains_it_when_writable() {
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 2)).unwrap();
    drop(ledger);
    {
        let mut db = raw_db(temp.path());
        db.delete_cf(db.cf_handle("meta").unwrap(), b"index_through")
            .unwrap();
        db.drop_cf("index").unwrap();
    }
    let read = Ledger::open(temp.path(), open_options(true, 2)).unwrap();
    assert!(!read.indexed());
    assert!(read.index_scan(b"k", None, 10).unwrap().is_empty());
    drop(read);

    let ledger = Ledger::open(temp.path(), open_options(false, 2)).unwrap();
    assert!(
        !ledger.indexed(),
        "the index must be built before it is trusted"
    );
    drop(ledger);
    let listed = rocksdb::DB::list_cf(&rocksdb::Options::default(), temp.path()).unwrap();
    assert!(listed.iter().any(|cf| cf == "index"), "{listed:?}");
}
