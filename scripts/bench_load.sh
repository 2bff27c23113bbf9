#!/usr/bin/env bash
# Latency under load (issue 16 part 3): what the pre-shift check's load phase measures against
# the truth, the figures of BENCHMARKS.md `## Latency under load`.
#
#   sudo scripts/bench_load.sh            (root: network namespaces and tc)
#
# Three namespaces, agent - router - hq, with the real `shiftready-hq serve` in hq and the real
# `shiftready` (enrolled) in agent. For each line in RATES (a tbf on both of the router's links:
# `tbf rate R burst 32kbit latency 400ms`, and `none` for no bucket) it runs
# `shiftready check --only network --json` RUNS times with the shipped defaults (a 5 s voice
# probe, then 3 s of load each way) and prints per run: the idle round trip, the loaded ones,
# the added latency, throughput up and down, RPM, the check's wall time, and beside them the
# truth: the bucket's rate and its queue limit (rate × 400 ms + burst, as a delay), and an
# independent measurement, `ping` from agent to HQ (median, every 50 ms) during the upload.
#
# Environment: RATES ("1mbit 4mbit none"), RUNS (3), AGENT_BIN, HQ_BIN (built binaries; default
# the debug ones in the target dir, built if missing: the load phase is network-bound).
set -euo pipefail
cd "$(dirname "$0")/.."
RATES=${RATES:-"1mbit 4mbit none"}
RUNS=${RUNS:-3}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
AGENT_BIN=${AGENT_BIN:-$TARGET_DIR/debug/shiftready}
HQ_BIN=${HQ_BIN:-$TARGET_DIR/debug/shiftready-hq}
if [ ! -x "$AGENT_BIN" ] || [ ! -x "$HQ_BIN" ]; then
  cargo build -p shiftready -p shiftready-hq >&2
fi
[ "$(id -u)" = 0 ] || { echo "bench_load: needs root (network namespaces, tc)" >&2; exit 1; }

TAG=srb$$
A=$TAG-agent R=$TAG-router H=$TAG-hq
AGENT_IP=10.73.1.2 GW_IP=10.73.1.1 RH_IP=10.73.2.1 HQ_IP=10.73.2.2
WORK=$(mktemp -d)
HQ_PID=""
cleanup() {
  [ -n "$HQ_PID" ] && kill "$HQ_PID" 2>/dev/null && wait "$HQ_PID" 2>/dev/null || true
  for ns in $A $R $H; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for ns in $A $R $H; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add a0 netns "$A" type veth peer name r0 netns "$R"
ip link add r1 netns "$R" type veth peer name h0 netns "$H"
ip -n "$A" addr add $AGENT_IP/24 dev a0; ip -n "$A" link set a0 up
ip -n "$R" addr add $GW_IP/24 dev r0; ip -n "$R" link set r0 up
ip -n "$R" addr add $RH_IP/24 dev r1; ip -n "$R" link set r1 up
ip -n "$H" addr add $HQ_IP/24 dev h0; ip -n "$H" link set h0 up
ip -n "$A" route add default via $GW_IP
ip -n "$H" route add default via $RH_IP
ip netns exec "$R" sysctl -qw net.ipv4.ip_forward=1

export SHIFTREADY_HQ_DATABASE_URL="sqlite://$WORK/hq.db"
# One load session per check, back to back: no pause between sessions for the bench.
XDG_DATA_HOME=$WORK ip netns exec "$H" "$HQ_BIN" serve --listen $HQ_IP:8640 \
  --probe-listen $HQ_IP:8637 --load-interval-seconds 0 >"$WORK/hq.out" 2>"$WORK/hq.log" &
HQ_PID=$!
for _ in $(seq 50); do grep -q "listening on" "$WORK/hq.out" && break; sleep 0.1; done
XDG_DATA_HOME=$WORK "$HQ_BIN" enroll-secret create --site main | tail -1 >"$WORK/secret"
cat >"$WORK/agent.toml" <<EOF
[hq]
url = "http://$HQ_IP:8640"
allow_plain_http = true

[agent]
state_dir = "$WORK/state"
EOF
agent() {
  ip netns exec "$A" env HOME="$WORK" XDG_DATA_HOME="$WORK" NO_COLOR=1 \
    "$AGENT_BIN" --config "$WORK/agent.toml" "$@"
}
agent enroll --hq "http://$HQ_IP:8640" --token-file "$WORK/secret" >/dev/null

printf '%-7s %-3s %8s %8s %8s %8s %9s %9s %6s %7s | %9s %9s %9s\n' \
  line run idle_ms up_ms down_ms added thr_up thr_down rpm wall_s \
  truth_kbps queue_ms ping_up_ms
for rate in $RATES; do
  for dev in r0 r1; do tc -n "$R" qdisc del dev $dev root 2>/dev/null || true; done
  truth_kbps=- queue_ms=-
  if [ "$rate" != none ]; then
    for dev in r0 r1; do
      tc -n "$R" qdisc add dev $dev root tbf rate "$rate" burst 32kbit latency 400ms
    done
    kbit=$(echo "$rate" | sed -e 's/mbit$/000/' -e 's/kbit$//')
    truth_kbps=$kbit
    # The queue holds rate × latency + burst; as a delay: 400 ms + 32 kbit / rate.
    queue_ms=$(awk -v k="$kbit" 'BEGIN { printf "%.0f", 400 + 32 / k * 1000 }')
  fi
  for run in $(seq "$RUNS"); do
    # ping during the upload: the voice probe takes 5 s, the upload the 3 s after it.
    (sleep 5.8; ip netns exec "$A" ping -n -i 0.05 -c 40 $HQ_IP 2>/dev/null \
      | sed -n 's/.*time=\([0-9.]*\).*/\1/p' | sort -n \
      | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "-" }' \
      >"$WORK/ping") &
    PING=$!
    t0=$(date +%s.%N)
    agent check --only network --json --no-send >"$WORK/check.json" || true
    t1=$(date +%s.%N)
    wait $PING
    jq -r --arg line "$rate" --arg run "$run" --arg wall "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
      --arg tk "$truth_kbps" --arg q "$queue_ms" --arg ping "$(cat "$WORK/ping")" \
      '.checks.network.metrics as $m
       | def f(x): if x == null then "-" else (x * 10 | round / 10 | tostring) end;
       [$line, $run, f($m.rtt_ms_median), f($m.rtt_loaded_up_ms), f($m.rtt_loaded_down_ms),
        f($m.added_latency_ms), f($m.throughput_up_kbps), f($m.throughput_down_kbps), f($m.rpm),
        $wall, $tk, $q, $ping] | @tsv' "$WORK/check.json" \
      | awk -F'\t' '{ printf "%-7s %-3s %8s %8s %8s %8s %9s %9s %6s %7s | %9s %9s %9s\n",
                      $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13 }'
    status=$(jq -r '.checks.network.status + " " + (.checks.network.metrics.load_note // "")' "$WORK/check.json")
    echo "        status: $status"
  done
done
