//! Durable, hash-chained ledger of opaque records on RocksDB: the only disk I/O inside the kernel.
//!
//! Architecture invariant: this crate knows nothing of the graph or of what any record
//! means. Payloads are opaque bytes, kinds are short strings, and snapshots are opaque
//! bytes plus a state digest the caller supplies. Nothing is acknowledged (returned `Ok`)
//! before it is synced to disk. The on-disk layout is described in `docs/LEDGER_FORMAT.md`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod blob;
mod bundle;
mod bundle_format;
mod clock;
pub mod codec;
mod depth;
mod error;
mod genesis;
mod hash;
mod index;
mod ledger;
mod limits;
mod range;
mod record;
mod snapshot;
mod staging;
mod store;
mod verify;

pub use blob::blob_hash;
pub use bundle::{BoxError, RecordCheck};
pub use bundle_format::{BundleInfo, BUNDLE_FORMAT_VERSION, BUNDLE_MAGIC};
pub use clock::{Clock, FixedClock, SystemClock};
pub use error::{AppendError, BundleError, OpenError, ReadError, SnapshotError, StoreError};
pub use genesis::{Genesis, FORMAT_VERSION, GENESIS_KIND, RESERVED_KIND_PREFIX};
pub use hash::{Hash, HashParseError};
pub use index::{IndexEntry, INDEX_KEY_BYTES_MAX, INDEX_VALUE_BYTES_MAX};
pub use ledger::{CreateOptions, Ledger, OpenOptions};
pub use limits::{
    ACTOR_NAME_BYTES_MAX, BATCH_BYTES_MAX, BATCH_RECORDS_MAX, BLOB_BYTES_MAX, BUNDLE_RECORDS_MAX,
    KIND_BYTES_MAX, PAYLOAD_BYTES_MAX, RECORD_BYTES_MAX, SNAPSHOTS_KEPT_MAX,
    SNAPSHOT_STATE_BYTES_MAX, VERIFY_PROGRESS_RECORDS,
};
pub use record::{Actor, Head, NewRecord, Record};
pub use snapshot::SnapshotMeta;
pub use store::rocksdb_options;
pub use verify::{VerifyEvent, VerifyReport};
