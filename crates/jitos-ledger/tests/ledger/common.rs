//! Helpers shared by the integration tests: ledgers in temp dirs, sample records, raw DB access.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use jitos_ledger::{
    Actor, BoxError, CreateOptions, FixedClock, Hash, Ledger, NewRecord, OpenOptions,
};

pub const STORE_ID: [u8; 16] = *b"test-store-id-01";
pub const COLUMN_FAMILIES: [&str; 5] = ["records", "blobs", "snapshots", "meta", "index"];

/// A record check for records of no kind the ledger's tests give meaning to: every record is
/// accepted and names no blob.
pub fn no_blobs(_: &jitos_ledger::Record) -> Result<BTreeSet<Hash>, BoxError> {
    Ok(BTreeSet::new())
}

pub fn create_at(dir: &Path, now_ms: u64) -> Ledger {
    Ledger::create(
        dir,
        CreateOptions {
            store_id: STORE_ID,
            clock: Arc::new(FixedClock(now_ms)),
        },
    )
    .unwrap()
}

pub fn open_options(read_only: bool, now_ms: u64) -> OpenOptions {
    OpenOptions {
        read_only,
        clock: Arc::new(FixedClock(now_ms)),
    }
}

pub fn new_record(i: usize) -> NewRecord {
    NewRecord {
        kind: "test.event".into(),
        actor: if i.is_multiple_of(2) {
            Actor::System
        } else {
            Actor::Named(format!("worker-{i}"))
        },
        payload: format!("payload {i}").into_bytes(),
    }
}

pub fn records(from: usize, count: usize) -> Vec<NewRecord> {
    (from..from + count).map(new_record).collect()
}

/// Opens the store's RocksDB directly, bypassing the ledger, to damage it on purpose.
pub fn raw_db(dir: &Path) -> rocksdb::DB {
    rocksdb::DB::open_cf(&jitos_ledger::rocksdb_options(), dir, COLUMN_FAMILIES).unwrap()
}

/// Flips one bit of the value stored under `key` in column family `cf`.
pub fn flip_stored_byte(dir: &Path, cf: &str, key: &[u8], index_from_end: usize) {
    let db = raw_db(dir);
    let handle = db.cf_handle(cf).unwrap();
    let mut value = db.get_cf(handle, key).unwrap().unwrap();
    let index = value.len() - 1 - index_from_end;
    value[index] ^= 0x10;
    db.put_cf(handle, key, value).unwrap();
}
