//! Damage behind the daemon's back: flipping a stored byte directly through RocksDB.

use std::path::Path;

use rocksdb::{Options, DB};

/// Column families of a ledger store, as `docs/LEDGER_FORMAT.md` names them.
const COLUMN_FAMILIES: [&str; 4] = ["records", "blobs", "snapshots", "meta"];

/// Flips one byte in the middle of the value stored under `key` in column family `cf` of
/// the store in `store` (no daemon may have it open), and flushes it to a table file, as
/// bit rot would leave it.
pub fn flip_stored_byte(store: &Path, cf: &str, key: &[u8]) {
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
    let handle = db
        .cf_handle(cf)
        .unwrap_or_else(|| panic!("no {cf} column family"));
    let mut value = db
        .get_cf(handle, key)
        .unwrap_or_else(|e| panic!("cannot read {cf} {key:02x?}: {e}"))
        .unwrap_or_else(|| panic!("{cf} holds nothing under the key {key:02x?}"));
    let middle = value.len() / 2;
    value[middle] ^= 0x01;
    db.put_cf(handle, key, &value)
        .unwrap_or_else(|e| panic!("cannot write {cf} {key:02x?} back: {e}"));
    db.flush_cf(handle)
        .unwrap_or_else(|e| panic!("cannot flush the {cf} column family: {e}"));
}
