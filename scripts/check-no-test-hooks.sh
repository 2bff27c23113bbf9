#!/usr/bin/env bash
# A build without the `test-hooks` feature (what ships: `cargo build`, `cargo build --release`)
# ignores every test hook (src/test_hooks.rs). Run against such a binary, e.g. the one the fresh
# demo builds in CI:
#
#   bash scripts/check-no-test-hooks.sh path/to/shiftready
#
# Checks, with the hooks set in the environment:
#   - SHIFTREADY_SYSROOT: `check --only os` reads this machine's os-release, not the fake one;
#   - SHIFTREADY_TEST_REPORT: the daemon, at a shift's start, runs the real checks (all five in
#     its last report) instead of reporting the file's "ready", and logs that the hook is ignored;
#   - SHIFTREADY_TEST_HOOKS_REQUIRED: the binary exits 2 saying it has no hooks.
# A binary built with the feature fails this script (it honours the fake os-release).
set -euo pipefail
bin=$(realpath "${1:?usage: check-no-test-hooks.sh path/to/shiftready}")
work=$(mktemp -d /tmp/shiftready-no-hooks.XXXXXX)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "no-test-hooks: FAILED: $*" >&2; exit 1; }
cd "$work"
export NO_COLOR=1 HOME=$work XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data
unset SHIFTREADY_TEST_HOOKS_REQUIRED DISPLAY

# SHIFTREADY_SYSROOT
mkdir -p sys/etc
echo 'PRETTY_NAME="Hooked OS 1"' >sys/etc/os-release
SHIFTREADY_SYSROOT=$work/sys "$bin" check --only os --no-send --json >os.json 2>os.err || true
name=$(python3 -c 'import json,sys; print(json.load(open("os.json"))["checks"]["os"]["metrics"]["name"])')
[ "$name" != "Hooked OS 1" ] || fail "SHIFTREADY_SYSROOT was honoured (os name '$name')"
grep -q "SHIFTREADY_SYSROOT is set but ignored" os.err || fail "no warning that SHIFTREADY_SYSROOT is ignored: $(cat os.err)"
echo "ok - SHIFTREADY_SYSROOT ignored (os: $name)"

# SHIFTREADY_TEST_REPORT: a shift from now on, the bar at "ready", a report file saying ready.
start=$(date -u -d '+2 seconds' +%H:%M:%S)
end=$(date -u -d '+10 minutes' +%H:%M:%S)
day=$(date -u +%a | tr '[:upper:]' '[:lower:]')
printf '[shift]\nreadiness_bar = "ready"\npre_shift_minutes = 1\n' >policy.toml
printf '[agent]\nstate_dir = "state"\npolicy_file = "policy.toml"\n\n[daemon]\nnotifications = false\n\n[[schedule.shift]]\ndays = ["%s"]\nstart = "%s"\nend = "%s"\ntimezone = "UTC"\n' \
  "$day" "$start" "$end" >agent.toml
echo '{"schema":1,"readiness":"ready","checks":{"os":{"status":"pass","metrics":{},"hint":""}}}' >ready.json
SHIFTREADY_TEST_REPORT=$work/ready.json SHIFTREADY_LOG=info \
  "$bin" --config agent.toml run --headless >daemon.log 2>&1 &
pid=$!
for _ in $(seq 1 120); do
  [ -s state/last-report.json ] && break
  kill -0 "$pid" 2>/dev/null || fail "the daemon stopped: $(tail -n 20 daemon.log)"
  sleep 0.5
done
[ -s state/last-report.json ] || fail "no report from the daemon within 60 s: $(tail -n 20 daemon.log)"
checks=$(python3 -c 'import json; print(",".join(sorted(json.load(open("state/last-report.json"))["checks"])))')
[ "$checks" = "hardware,headset,network,noise,os" ] || fail "the daemon's report has checks '$checks', not the real five"
grep -q "SHIFTREADY_TEST_REPORT is set but ignored" daemon.log || fail "no warning that SHIFTREADY_TEST_REPORT is ignored"
kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
echo "ok - SHIFTREADY_TEST_REPORT ignored: the daemon ran the real checks ($checks)"

# SHIFTREADY_TEST_HOOKS_REQUIRED: a test harness asking for hooks gets a clear refusal.
code=0
SHIFTREADY_TEST_HOOKS_REQUIRED=1 SHIFTREADY_SYSROOT=$work/sys \
  "$bin" check --only os --no-send --json >/dev/null 2>req.err || code=$?
[ "$code" = 2 ] && grep -q "build with .--features shiftready/test-hooks" req.err ||
  fail "with SHIFTREADY_TEST_HOOKS_REQUIRED=1: exit $code, $(cat req.err)"
echo "ok - a harness that needs the hooks is told this build has none"
