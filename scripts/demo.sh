#!/usr/bin/env bash
# The main job: set-up, then `jitos demo` (an embedded daemon on a throw-away store).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Shares its build with scripts/test.sh, so RocksDB compiles once per machine.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/jitos-target}"
# The demo's jobs run the built-in workers, which the daemon finds beside `jitos`;
# `jitosd` is built too, for exploring the kept store afterwards.
cargo build --quiet --locked -p jitos-cli -p jitosd -p jitos-worker-noop \
  -p jitos-worker-shell -p jitos-worker-scaffold
exec "$CARGO_TARGET_DIR/debug/jitos" demo "$@"
