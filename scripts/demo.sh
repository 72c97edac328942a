#!/usr/bin/env bash
# The main job: set-up, then `jitos demo` (an embedded daemon on a throw-away store).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Shares its build with scripts/test.sh, so RocksDB compiles once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jitos-target}"
cargo run --quiet --locked --bin jitos -- demo "$@"
