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
if [ "$(id -u)" -eq 0 ]; then AS_ROOT=(); else AS_ROOT=(sudo --preserve-env); fi

# Two lanes, so the two cores are used while the tests mostly wait on sockets, timers and child
# processes (CI time, issue 17): first every test binary is built; then lane 1 runs them while
# lane 2 runs the Windows build under Wine, the installer's static, Windows and macOS parts and
# any command given as an argument (CI: the fresh-clone demo). Lane 2 builds only into other
# target directories or for the Windows target, so nothing a running test uses is rebuilt under
# it. The installer's Linux part rebuilds target/debug/shiftready without test hooks, so it runs
# after lane 1. Each lane's output goes to its own file and is printed whole at the end.
t0=$SECONDS
stamp() { printf '[test.sh %dm%02ds] %s\n' $(((SECONDS - t0) / 60)) $(((SECONDS - t0) % 60)) "$*"; }
stamp "building every test binary"
cargo test --workspace --all-targets --features shiftready/test-hooks --no-run

lane2() {
  local rc=0
  # Lane 1's `cargo test` first checks that its binaries are fresh, under the build directory's
  # lock; lane 2's builds would hold that lock for minutes, so lane 2 starts once lane 1 runs.
  for _ in $(seq 600); do grep -q "Running " target/test-output.txt 2>/dev/null && break; sleep 1; done
  # The agent's Windows build under Wine (named-pipe IPC, instance lock, IcmpSendEcho, the
  # real shiftready.exe); skips and says so without Wine/mingw unless SHIFTREADY_REQUIRE_WINE=1.
  stamp "lane 2: Windows tests under Wine"
  bash scripts/test-windows.sh >target/test-windows-output.txt 2>&1 || rc=1
  stamp "lane 2: installer, static/Windows/macOS parts"
  INSTALLER_TEST_PARTS="static windows macos" "${AS_ROOT[@]}" bash installer/test.sh \
    >target/installer-output-1.txt 2>&1 || rc=1
  for cmd in "$@"; do
    stamp "lane 2: $cmd"
    bash -c "$cmd" >>target/lane2-extra-output.txt 2>&1 || { rc=1; echo "FAILED: $cmd" >>target/lane2-extra-output.txt; }
  done
  stamp "lane 2: done (status $rc)"
  return $rc
}
rm -f target/lane2-extra-output.txt target/test-output.txt
lane2 "$@" >target/lane2-output.txt 2>&1 &
lane2_pid=$!
trap 'kill "$lane2_pid" 2>/dev/null || true' EXIT

stamp "lane 1: cargo test"
set +e
cargo test --workspace --all-targets --features shiftready/test-hooks 2>&1 | tee target/test-output.txt
tests_rc=${PIPESTATUS[0]}
stamp "lane 1: cargo test done (status $tests_rc); waiting for lane 2"
wait "$lane2_pid"
lane2_rc=$?
trap - EXIT
set -e
for f in lane2-output test-windows-output installer-output-1 lane2-extra-output; do
  [ -f "target/$f.txt" ] || continue
  echo "=================== target/$f.txt"
  cat "target/$f.txt"
done

# The installer's Linux part installs, upgrades and purges the .deb and creates test users:
# root only.
stamp "installer, Linux part"
linux_rc=0
INSTALLER_TEST_PARTS="linux" "${AS_ROOT[@]}" bash installer/test.sh 2>&1 | tee target/installer-output-2.txt \
  || linux_rc=1
stamp "all done: cargo test $tests_rc, lane 2 $lane2_rc, installer Linux part $linux_rc"
[ "$tests_rc" -eq 0 ] && [ "$lane2_rc" -eq 0 ] && [ "$linux_rc" -eq 0 ]
