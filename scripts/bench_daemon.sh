#!/usr/bin/env bash
# Resident memory and CPU of `shiftready run --headless` during in-shift monitoring, next to
# Debian's prometheus-node-exporter idling in the same run, on the same machine.
#
#   bash scripts/bench_daemon.sh [SECONDS]        (default 600: ten minutes)
#
# The daemon runs the release build with a real HQ (`shiftready-hq serve` on loopback, enrolled)
# and a local shift covering the whole run, readiness bar `any` so it is signed in throughout:
# real checks at the shift start, then heartbeats every 30 s delivered to HQ, the headset looked
# at every 3 s, a light network probe every 60 s, the noise every 300 s (policy defaults).
# CPU is utime+stime (children included) from /proc over the run; RSS is sampled every 5 s.
# Prints a Markdown section for BENCHMARKS.md on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-600}
if ! command -v prometheus-node-exporter >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends prometheus-node-exporter >&2
fi
cargo build -q --release --bin shiftready -p shiftready >&2
# HQ is not measured: its debug build is enough.
cargo build -q --bin shiftready-hq -p shiftready-hq >&2
AGENT=target/release/shiftready
HQ=target/debug/shiftready-hq

WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

export SHIFTREADY_HQ_DATABASE_URL="sqlite://$WORK/hq.db"
SECRET=$("$HQ" enroll-secret create --site main | tail -n1)
"$HQ" serve --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 >"$WORK/hq.out" 2>"$WORK/hq.err" &
PIDS+=($!)
for _ in $(seq 50); do grep -q "listening on" "$WORK/hq.out" && break; sleep 0.2; done
URL=$(sed -n 's/^shiftready-hq: listening on //p' "$WORK/hq.out" | head -n1)

start=$(date -u -d '-1 minute' +%H:%M:%S)
end=$(date -u -d "+$((DUR + 300)) seconds" +%H:%M:%S)
day=$(date -u -d '-1 minute' +%a | tr '[:upper:]' '[:lower:]')
cat >"$WORK/policy.toml" <<EOF
[shift]
readiness_bar = "any"
EOF
cat >"$WORK/agent.toml" <<EOF
[agent]
state_dir = "state"
policy_file = "policy.toml"
[daemon]
notifications = false
[[schedule.shift]]
days = ["$day"]
start = "$start"
end = "$end"
timezone = "UTC"
EOF
# HQ's policy wins over the local one once enrolled: the same bar there.
"$HQ" policy set --site main "$WORK/policy.toml" >&2
"$AGENT" --config "$WORK/agent.toml" enroll --hq "$URL" --token "$SECRET" >&2

prometheus-node-exporter --web.listen-address=127.0.0.1:0 >"$WORK/ne.log" 2>&1 &
NE=$!; PIDS+=("$NE")
SHIFTREADY_LOG=shiftready=info "$AGENT" --config "$WORK/agent.toml" run --headless 2>"$WORK/agent.log" &
AG=$!; PIDS+=("$AG")
# Let both settle (the daemon's first full check at shift start), then measure.
for _ in $(seq 100); do
  "$AGENT" --config "$WORK/agent.toml" status --json 2>/dev/null | grep -q '"signed_in": true' && break
  sleep 0.3
done
"$AGENT" --config "$WORK/agent.toml" status --json | grep -q '"signed_in": true' \
  || { echo "the daemon did not sign in:" >&2; cat "$WORK/agent.log" >&2; exit 1; }
sleep 20

TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
a0=$(cpu $AG); n0=$(cpu $NE); t0=$(date +%s.%N)
ars=(); nrs=()
while :; do
  ars+=("$(rss $AG)"); nrs+=("$(rss $NE)")
  now=$(date +%s.%N)
  awk -v a="$now" -v b="$t0" -v d="$DUR" 'BEGIN{exit !(a-b < d)}' || break
  sleep 5
done
a1=$(cpu $AG); n1=$(cpu $NE); t1=$(date +%s.%N)
kill -0 $AG || { echo "the daemon died:" >&2; cat "$WORK/agent.log" >&2; exit 1; }
STATUS=$("$AGENT" --config "$WORK/agent.toml" status --json)
cp "$WORK/agent.log" target/bench-daemon-agent.log
stats() { printf '%s\n' "$@" | awk '{s+=$1; if($1>m)m=$1} END{printf "%.1f %.1f\n", s/NR/1024, m/1024}'; }
read -r a_mean a_max < <(stats "${ars[@]}")
read -r n_mean n_max < <(stats "${nrs[@]}")
a_cpu=$(awk -v d=$((a1 - a0)) -v t="$TCK" -v s="$t0" -v e="$t1" 'BEGIN{printf "%.3f", d/t/(e-s)*100}')
n_cpu=$(awk -v d=$((n1 - n0)) -v t="$TCK" -v s="$t0" -v e="$t1" 'BEGIN{printf "%.3f", d/t/(e-s)*100}')
secs=$(awk -v s="$t0" -v e="$t1" 'BEGIN{printf "%.0f", e-s}')
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }

cat <<EOF
## Daemon

Resident memory and CPU of \`shiftready run --headless\` (release build) signed in to a shift
and monitoring (real checks, heartbeats delivered to a real \`shiftready-hq\` on loopback,
headset every 3 s, light network probe every 60 s, noise every 300 s), next to Debian's
\`prometheus-node-exporter\` ($(prometheus-node-exporter --version 2>&1 | head -n1 | awk '{print $3}')) idling in the same run.

- Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1)
- Command: \`bash scripts/bench_daemon.sh $DUR\` ($secs s measured after the sign-in and 20 s of settling;
  RSS sampled every 5 s; CPU = utime+stime incl. children from /proc over the whole window)
- Daemon status at the end: \`$(echo "$STATUS" | tr -d '\n ' | cut -c1-160)…\`

| process | RSS mean (MB) | RSS max (MB) | CPU (% of one core) |
|---|---|---|---|
| shiftready run --headless | $a_mean | $a_max | $a_cpu |
| prometheus-node-exporter (idle) | $n_mean | $n_max | $n_cpu |
| ratio shiftready / node-exporter | $(ratio "$a_mean" "$n_mean") | $(ratio "$a_max" "$n_max") | $(ratio "$a_cpu" "$n_cpu") |

Floor (issue 6): under 20 MB resident and under 0.1 % of one core on average.
EOF
