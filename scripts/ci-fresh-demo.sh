#!/usr/bin/env bash
# The README's first command, proved the way a newcomer meets it: a fresh `git clone` of this
# checkout's HEAD with its own empty CARGO_TARGET_DIR, then `bash scripts/demo.sh` in it. Passes
# when the demo ends with the agent signed in and the login it printed opens the dashboard,
# which lists the agent; a wrong password must not. Stops what the demo started, whatever happens.
#
#   SHIFTREADY_FRESH_DEMO_KEEP=1   keep the clone and its target directory (for a look after)
#
# Run by .ci/run. Takes a full debug build of both programs from nothing (about 6 min on two
# cores).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/shiftready-fresh-demo.XXXXXX)
clone=$work/clone
out=$work/demo.out
port=${SHIFTREADY_DEMO_PORT:-18640}
probe=${SHIFTREADY_DEMO_PROBE:-18637}

cleanup() {
  for pidfile in "$clone/target/demo/agent.pid" "$clone/target/demo/hq.pid"; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  sleep 1
  if [ "${SHIFTREADY_FRESH_DEMO_KEEP:-0}" = 1 ]; then
    echo "fresh-demo: kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

fail() {
  echo "fresh-demo: FAILED: $*" >&2
  for log in "$clone/target/demo/hq.log" "$clone/target/demo/agent.log"; do
    [ -f "$log" ] && { echo "--- $log (last 30 lines)" >&2; tail -n 30 "$log" >&2; }
  done
  exit 1
}

git clone --quiet "$root" "$clone"
echo "fresh-demo: cloned $(git -C "$clone" rev-parse --short HEAD) into $clone; empty target $work/target"
start=$(date +%s)
CARGO_TARGET_DIR=$work/target SHIFTREADY_DEMO_PORT=$port SHIFTREADY_DEMO_PROBE=$probe \
  bash "$clone/scripts/demo.sh" 2>&1 | tee "$out" || fail "scripts/demo.sh exited non-zero"
echo "fresh-demo: the demo took $(($(date +%s) - start)) s from a fresh clone"

grep -q "signed in: yes\." "$out" || fail "the demo did not end with the agent signed in"
url=$(sed -n 's/^ *Dashboard: *//p' "$out")
user=$(sed -n 's/^ *Sign in as: *//p' "$out")
password=$(sed -n 's/^ *Password: *//p' "$out")
if [ -z "$url" ] || [ -z "$user" ] || [ -z "$password" ]; then
  fail "the demo printed no dashboard login"
fi

jar=$work/cookies
code=$(curl -s -o /dev/null -w '%{http_code}' -c "$jar" \
  --data-urlencode "user=$user" --data-urlencode "password=$password" "${url}login")
[ "$code" = 303 ] || fail "logging in with the printed login answered HTTP $code, not 303"
page=$work/fleet.html
code=$(curl -s -o "$page" -w '%{http_code}' -b "$jar" "$url")
[ "$code" = 200 ] || fail "the dashboard answered HTTP $code after logging in"
# The agent enrolls under this machine's host name, which the fleet page shows.
agent_name=$(hostname)
grep -qF "$agent_name" "$page" || fail "the dashboard does not list the demo's agent ($agent_name)"
# The same login with a wrong password must not open it (so the check above can fail).
code=$(curl -s -o /dev/null -w '%{http_code}' \
  --data-urlencode "user=$user" --data-urlencode "password=${password}x" "${url}login")
[ "$code" = 401 ] || fail "a wrong password answered HTTP $code, not 401"
# The demo's agent is built as a user builds it, without the test-hooks feature: it must ignore
# every test hook (SHIFTREADY_TEST_REPORT could otherwise make it report "ready" to HQ).
bash "$root/scripts/check-no-test-hooks.sh" "$work/target/debug/shiftready" ||
  fail "the demo's agent (built without test-hooks) obeys a test hook"
echo "fresh-demo: signed in: yes; the printed login opens the dashboard, which lists $agent_name"
echo "fresh-demo: 2 passed, 0 failed"
