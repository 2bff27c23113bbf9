#!/usr/bin/env bash
# The whole test suite: installs what the tests need (scripts/setup.sh test), starts a local
# PostgreSQL when one is installed, then runs every test of the workspace, the Windows build
# under Wine and the installer tests. A test whose system piece is missing (PostgreSQL,
# Chromium, network namespaces, Wine, PulseAudio, root) prints SKIPPED and passes, unless its
# SHIFTREADY_REQUIRE_* variable is 1 (CI sets them all: .ci/run), which makes it fail.
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
  # The tests connect over the local socket as the current user (peer authentication), so
  # that user needs a PostgreSQL role allowed to create the per-test databases.
  me=$(id -un)
  if [ "$me" != postgres ] && command -v psql >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then asp=(su postgres -c); else asp=(sudo -u postgres sh -c); fi
    "${asp[@]}" "psql -Atqc \"SELECT 1 FROM pg_roles WHERE rolname = '$me'\" | grep -q 1 || createuser --superuser '$me'" \
      || echo "test: could not create a PostgreSQL role for $me; PostgreSQL tests may be skipped"
  fi
fi

mkdir -p target
# The agent speaks the OS locale's language (issue 16): most tests read its English, so the
# suite runs in the C locale whatever the machine's is; tests/i18n.rs sets LANG itself.
unset LANGUAGE LC_MESSAGES
export LANG=C.UTF-8 LC_ALL=C.UTF-8
cargo test --workspace --all-targets --features shiftready/test-hooks 2>&1 | tee target/test-output.txt
# The agent's Windows build under Wine (named-pipe IPC, instance lock, IcmpSendEcho, the real
# shiftready.exe); skips and says so without Wine/mingw unless SHIFTREADY_REQUIRE_WINE=1.
bash scripts/test-windows.sh 2>&1 | tee target/test-windows-output.txt
# The installer tests install, upgrade and purge the .deb and create test users: root only.
if [ "$(id -u)" -eq 0 ]; then
  bash installer/test.sh
else
  sudo bash installer/test.sh
fi
