#!/usr/bin/env bash
# Installs what the build needs on a fresh Debian machine with the Rust toolchain:
# clang and libclang for RocksDB's bindings; curl, which the network jobs' tests run
# through the daemon's proxy and the API's tests use on its unix socket; and Chromium
# with its WebDriver, which the viewer's browser test drives. Safe to run again.
set -euo pipefail

missing=()
command -v clang >/dev/null 2>&1 || missing+=(clang)
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v curl >/dev/null 2>&1 || missing+=(curl)
[ -x /usr/bin/chromium ] || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
