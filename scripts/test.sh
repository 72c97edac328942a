#!/usr/bin/env bash
# The whole test suite, as CI runs it: set-up, format and lint gates, every test.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# RocksDB builds from source; keep the target directory outside the clone so repeated
# runs (and fresh clones on the same machine) reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jitos-target}"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The API docs build without a broken link or stray tag, as docs.rs would show them.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# The system tests drive the real binaries, so build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked
