#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/setup.sh test), starts a local
# PostgreSQL when one is installed, then runs every test of the workspace and the installer
# tests. PostgreSQL tests are skipped, and say so, when no server can be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

# PostgreSQL: start the packaged cluster if it is not running (needs root or sudo).
if command -v pg_lsclusters >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  pg_lsclusters --no-header | while read -r ver name _port status _rest; do
    if [ "$status" != online ]; then $SUDO pg_ctlcluster "$ver" "$name" start || true; fi
  done
fi

mkdir -p target
cargo test --workspace --all-targets --locked 2>&1 | tee target/test-output.txt
if [ -x installer/test.sh ]; then
  bash installer/test.sh
fi
