//! Integration tests of the ledger's public API against real RocksDB stores in temp dirs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod append;
mod blobs;
mod bundles;
mod common;
mod corruption;
mod index;
mod open;
mod snapshots;
