#!/usr/bin/env bash
# The ShiftReady demo: installs what it needs (scripts/setup.sh demo) and builds, then runs HQ on
# embedded SQLite (loopback only), enrolls this machine as an agent, sends its pre-shift check,
# gives it a shift that is on now and starts the agent's daemon, which signs it in; it ends by
# printing the dashboard's address and login. Everything lives in target/demo; run it again to
# start afresh.
#
#   SHIFTREADY_DEMO_PORT   HTTP port of HQ (default 8640)
#   SHIFTREADY_DEMO_PROBE  UDP port of HQ's probe reflector (default 8637)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh" demo
# shellcheck disable=SC1091
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
# Both programs: the agent is the root package, HQ a workspace member (`--bins` alone at the
# root builds only the agent, which once left a fresh clone without HQ).
(cd "$root" && cargo build -p shiftready -p shiftready-hq --bins)
target=${CARGO_TARGET_DIR:-$root/target}
case $target in /*) ;; *) target=$root/$target ;; esac
bin=$target/debug
hq=$bin/shiftready-hq
agent=$bin/shiftready
port=${SHIFTREADY_DEMO_PORT:-8640}
probe=${SHIFTREADY_DEMO_PROBE:-8637}
demo=$root/target/demo
url=http://127.0.0.1:$port

for b in "$hq" "$agent"; do
  if [ ! -x "$b" ]; then
    echo "demo: $b is missing after the build; see the cargo output above" >&2
    exit 66
  fi
done

# A previous demo's HQ and agent still running: stop them (only the ones this script started).
for pidfile in "$demo/agent.pid" "$demo/hq.pid"; do
  if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    kill "$(cat "$pidfile")" && sleep 1
  fi
done
rm -rf "$demo"
mkdir -p "$demo"
export SHIFTREADY_HQ_DATABASE_URL="sqlite://$demo/hq.db"

# HQ: an enrollment secret for the site, and a dashboard user with a fresh password.
secret=$("$hq" enroll-secret create --site demo | tail -n 1)
password=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 16)
printf '%s\n' "$password" | "$hq" user add admin --role admin >/dev/null

"$hq" serve --listen "127.0.0.1:$port" --probe-listen "127.0.0.1:$probe" >"$demo/hq.log" 2>&1 &
echo $! >"$demo/hq.pid"
for _ in $(seq 1 50); do
  if grep -q "listening on" "$demo/hq.log" 2>/dev/null; then break; fi
  if ! kill -0 "$(cat "$demo/hq.pid")" 2>/dev/null; then
    echo "demo: HQ did not start:" >&2
    cat "$demo/hq.log" >&2
    exit 69
  fi
  sleep 0.1
done

# The agent on this machine: its own config and state, enrolled with HQ.
cat >"$demo/agent.toml" <<EOF
[hq]
url = "$url"
reflector = "127.0.0.1:$probe"

[agent]
state_dir = "$demo/agent"
EOF
# The secret on standard input, not the command line (where \`ps\` would show it).
printf '%s\n' "$secret" | "$agent" --config "$demo/agent.toml" enroll --hq "$url" --token-file -

# The pre-shift check; enrolled, it sends its report to HQ. Its exit code is the readiness
# (0 ready, 1 degraded, 2 not ready, 3 unknown), not a failure of the demo.
set +e
"$agent" --config "$demo/agent.toml" check
set -e

# A shift that is on now, for this agent, and a site policy that signs in whatever the checks
# say (this machine may have no headset or microphone); then the daemon, which signs in.
device_id=$(sed -n 's/.*"device_id": *"\([^"]*\)".*/\1/p' "$demo/agent/device.json")
start=$(date -u -d '-1 minute' +%Y-%m-%dT%H:%M:%SZ)
end=$(date -u -d '+8 hours' +%Y-%m-%dT%H:%M:%SZ)
printf 'agent,start,end\n%s,%s,%s\n' "$device_id" "$start" "$end" >"$demo/shifts.csv"
"$hq" shifts import "$demo/shifts.csv" >/dev/null
sed 's/^readiness_bar = .*/readiness_bar = "any"/' "$root/config/policy.toml" >"$demo/policy.toml"
"$hq" policy set --site demo "$demo/policy.toml" >/dev/null
"$agent" --config "$demo/agent.toml" run --headless >"$demo/agent.log" 2>&1 &
echo $! >"$demo/agent.pid"
signed_in=no
for _ in $(seq 1 60); do
  if "$agent" --config "$demo/agent.toml" status --json 2>/dev/null | grep -q '"signed_in": *true'; then
    signed_in=yes
    break
  fi
  sleep 0.5
done

cat <<EOF

ShiftReady HQ is running (pid $(cat "$demo/hq.pid"); log: $demo/hq.log).
The agent's daemon is running (pid $(cat "$demo/agent.pid"); log: $demo/agent.log); signed in: $signed_in.
  Dashboard:  $url/
  Sign in as: admin
  Password:   $password
Run the check again:  $agent --config $demo/agent.toml check
Agent status:         $agent --config $demo/agent.toml status
Stop both:            kill $(cat "$demo/agent.pid") $(cat "$demo/hq.pid")
EOF
