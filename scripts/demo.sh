#!/usr/bin/env bash
# The ShiftReady demo, after `cargo build`: HQ on embedded SQLite (loopback only), this machine
# enrolled as an agent, its pre-shift check sent to HQ, and the dashboard's address and login
# printed. Everything lives in target/demo; run it again to start afresh.
#
#   SHIFTREADY_DEMO_PORT   HTTP port of HQ (default 8640)
#   SHIFTREADY_DEMO_PROBE  UDP port of HQ's probe reflector (default 8637)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${CARGO_TARGET_DIR:-$root/target}/debug
hq=$bin/shiftready-hq
agent=$bin/shiftready
port=${SHIFTREADY_DEMO_PORT:-8640}
probe=${SHIFTREADY_DEMO_PROBE:-8637}
demo=$root/target/demo
url=http://127.0.0.1:$port

for b in "$hq" "$agent"; do
  if [ ! -x "$b" ]; then
    echo "demo: $b is missing; run \`cargo build\` first" >&2
    exit 66
  fi
done

# A previous demo's HQ still running: stop it (only the one this script started).
if [ -f "$demo/hq.pid" ] && kill -0 "$(cat "$demo/hq.pid")" 2>/dev/null; then
  kill "$(cat "$demo/hq.pid")" && sleep 1
fi
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
"$agent" --config "$demo/agent.toml" enroll --hq "$url" --token "$secret"

# The pre-shift check; enrolled, it sends its report to HQ. Its exit code is the readiness
# (0 ready, 1 degraded, 2 not ready, 3 unknown), not a failure of the demo.
set +e
"$agent" --config "$demo/agent.toml" check
set -e

cat <<EOF

ShiftReady HQ is running (pid $(cat "$demo/hq.pid"); log: $demo/hq.log).
  Dashboard:  $url/
  Sign in as: admin
  Password:   $password
Run the check again:  $agent --config $demo/agent.toml check
Stop HQ:              kill $(cat "$demo/hq.pid")
EOF
