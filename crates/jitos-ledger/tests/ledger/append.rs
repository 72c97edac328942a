//! Appending batches: read-back, chain links, recorded time, limits and range reads.

use std::sync::Arc;

use jitos_ledger::{
    Actor, AppendError, FixedClock, Ledger, NewRecord, OpenOptions, ReadError, BATCH_RECORDS_MAX,
    PAYLOAD_BYTES_MAX,
};

use crate::common::{create_at, open_options, records};

#[test]
fn batches_read_back_in_order_with_assigned_seqs() {
    // Appended records come back from get and range exactly as append_batch returned them.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let mut appended = ledger.append_batch(records(0, 4)).unwrap();
    appended.extend(ledger.append_batch(records(4, 6)).unwrap());
    let seqs: Vec<u64> = appended.iter().map(|record| record.seq).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    for (i, record) in appended.iter().enumerate() {
        assert_eq!(record.payload, format!("payload {i}").into_bytes());
        assert_eq!(ledger.get(record.seq).unwrap().as_ref(), Some(record));
    }
    let ranged: Vec<_> = ledger.range(1, 10).map(Result::unwrap).collect();
    assert_eq!(ranged, appended);
    assert_eq!(ledger.head().seq, 10);
    assert_eq!(ledger.head().hash, appended[9].hash);
}

#[test]
fn records_link_to_their_parents() {
    // Each record's parent is the previous record's hash and its hash recomputes.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 3)).unwrap();
    ledger.append_batch(records(3, 3)).unwrap();
    let chain: Vec<_> = ledger.range(0, u64::MAX).map(Result::unwrap).collect();
    assert_eq!(chain.len(), 7);
    for pair in chain.windows(2) {
        assert_eq!(pair[1].parent, pair[0].hash);
        assert_eq!(pair[1].seq, pair[0].seq + 1);
    }
    for record in &chain {
        assert_eq!(record.compute_hash(), record.hash);
    }
}

#[test]
fn recorded_time_comes_from_the_clock() {
    // Every record of a batch carries the injected clock's reading, across reopen too.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 111);
    let first = ledger.append_batch(records(0, 3)).unwrap();
    assert!(first.iter().all(|record| record.time_ms == 111));
    drop(ledger);
    let mut ledger = Ledger::open(temp.path(), open_options(false, 222)).unwrap();
    let second = ledger.append_batch(records(3, 2)).unwrap();
    assert!(second.iter().all(|record| record.time_ms == 222));
    assert_eq!(ledger.get(1).unwrap().unwrap().time_ms, 111);
}

#[test]
fn same_input_gives_same_hashes() {
    // Two stores fed the same ids, clock and records produce byte-identical chains.
    let heads: Vec<_> = (0..2)
        .map(|_| {
            let temp = tempfile::tempdir().unwrap();
            let mut ledger = create_at(temp.path(), 5);
            ledger.append_batch(records(0, 20)).unwrap();
            ledger.head()
        })
        .collect();
    assert_eq!(heads[0], heads[1]);
}

#[test]
fn empty_batch_is_ok_and_writes_nothing() {
    // An empty batch returns no records and leaves the head alone.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let head = ledger.head();
    assert!(ledger.append_batch(Vec::new()).unwrap().is_empty());
    assert_eq!(ledger.head(), head);
}

#[test]
fn a_bad_record_rejects_the_whole_batch() {
    // One invalid record in a batch means nothing from it is written and the head stays.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    let head = ledger.head();
    let mut batch = records(0, 3);
    batch[2].payload = vec![0; PAYLOAD_BYTES_MAX + 1];
    let error = ledger.append_batch(batch).err().unwrap();
    assert!(
        matches!(error, AppendError::PayloadTooLarge { index: 2, .. }),
        "{error}"
    );
    let mut batch = records(0, 2);
    batch[1].kind = "ledger.genesis".into();
    assert!(matches!(
        ledger.append_batch(batch),
        Err(AppendError::KindInvalid { index: 1, .. })
    ));
    let too_many = vec![records(0, 1)[0].clone(); BATCH_RECORDS_MAX + 1];
    assert!(matches!(
        ledger.append_batch(too_many),
        Err(AppendError::BatchTooLarge { .. })
    ));
    assert_eq!(ledger.head(), head);
    assert_eq!(ledger.get(1).unwrap(), None);
}

#[test]
fn actors_round_trip() {
    // Every actor variant is stored and read back unchanged.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::create(
        temp.path(),
        jitos_ledger::CreateOptions {
            store_id: [1; 16],
            clock: Arc::new(FixedClock(9)),
        },
    )
    .unwrap();
    let actors = [
        Actor::System,
        Actor::Peer {
            uid: 1000,
            pid: 4242,
        },
        Actor::Named("planner".into()),
    ];
    let batch = actors
        .iter()
        .map(|actor| NewRecord {
            kind: "test.actor".into(),
            actor: actor.clone(),
            payload: Vec::new(),
        })
        .collect();
    ledger.append_batch(batch).unwrap();
    drop(ledger);
    let ledger = Ledger::open(
        temp.path(),
        OpenOptions {
            read_only: true,
            clock: Arc::new(FixedClock(0)),
        },
    )
    .unwrap();
    let stored: Vec<Actor> = ledger
        .range(1, 3)
        .map(|record| record.unwrap().actor)
        .collect();
    assert_eq!(stored, actors);
}

#[test]
fn range_is_cut_at_the_head_and_get_beyond_is_none() {
    // Ranges past the head stop at it, inverted ranges are empty, get past the head is None.
    let temp = tempfile::tempdir().unwrap();
    let mut ledger = create_at(temp.path(), 1);
    ledger.append_batch(records(0, 5)).unwrap();
    assert_eq!(ledger.range(3, 100).count(), 3);
    assert_eq!(ledger.range(4, 2).count(), 0);
    assert_eq!(ledger.range(6, 9).count(), 0);
    assert_eq!(ledger.get(6).unwrap(), None);
    assert!(matches!(ledger.get(u64::MAX), Ok(None)));
    let all: Result<Vec<_>, ReadError> = ledger.range(0, 5).collect();
    assert_eq!(all.unwrap().len(), 6);
}
