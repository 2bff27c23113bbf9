#!/usr/bin/env bash
# The pilot stream (issue 15) side by side with today's behaviour, in one run: two headless
# daemons signed in to a shift, one with `[monitor] pilot = true`, one with `pilot = false`,
# each in its own network namespace behind one router namespace, both enrolled at one real
# HQ (`shiftready-hq serve`, debug build, not measured) in a third namespace.
#
#   sudo bash scripts/bench_pilot.sh [--quick] [MINUTES] [TRIALS]
#
# MINUTES: the measured window (default 10; --quick: 2). TRIALS: outages and loss bursts made
# on the pilot's path after the window (default 3; --quick: 2).
# - CPU % of one core: utime+stime (children included) from /proc/PID/stat over the window.
# - RSS: /proc/PID/status VmRSS every 5 s (max and mean).
# - Bytes each way: nftables counters at the router per agent, on UDP to and from the
#   reflector's port: all of it, and the pilot's packets alone (UDP length 84 = 76 B payload).
# - Detection: an outage (everything between the agent and HQ dropped at the router) and a
#   loss burst (half of the agent's UDP to the reflector dropped for 5 s), timed from the
#   moment the rule is loaded until `status --json` lists network_degraded; then healed and
#   waited until it ends. The pilot-off daemon is timed on the first outage too (up to 240 s;
#   not in --quick).
# Both daemons run the real checks (readiness bar `any`, a local shift over the whole run):
# the once-a-minute probe and the rest of today's monitors run in both.
# Also in the same window: Debian's prometheus-node-exporter idling (not scraped; skipped when
# not installed), and with BENCH_BASE_BIN=PATH a third daemon, another build (say the one before
# a change) with the pilot on, in a namespace of its own: the same figures side by side.
# - Wake-ups per second: voluntary + involuntary context switches of all the process's threads
#   (/proc/PID/task/*/status) over the window (threads that ended meanwhile are not counted).
# - Load average: at the start and end, and the mean of the 1-minute figure sampled every 5 s.
# Needs root, iproute2 and nftables. Prints a Markdown section for BENCHMARKS.md on stdout;
# logs go to target/bench-pilot-*.log. BENCH_AGENT_BIN / BENCH_HQ_BIN: prebuilt binaries.
set -euo pipefail
cd "$(dirname "$0")/.."
MIN=10; TRIALS=3; QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; MIN=2; TRIALS=2; shift; fi
MIN=${1:-$MIN}; TRIALS=${2:-$TRIALS}
DUR=$((MIN * 60))
TARGET=${CARGO_TARGET_DIR:-target}
[ "$(id -u)" -eq 0 ] || { echo "bench_pilot.sh needs root (network namespaces)" >&2; exit 2; }
command -v nft >/dev/null || { echo "needs nftables (apt-get install nftables)" >&2; exit 2; }

if [ -n "${BENCH_AGENT_BIN:-}" ]; then AGENT=$BENCH_AGENT_BIN; else
  cargo build -q --release --no-default-features --bin shiftready -p shiftready >&2
  AGENT=$TARGET/release/shiftready
fi
if [ -n "${BENCH_HQ_BIN:-}" ]; then HQ=$BENCH_HQ_BIN; else
  cargo build -q --bin shiftready-hq -p shiftready-hq >&2
  HQ=$TARGET/debug/shiftready-hq
fi

WORK=$(mktemp -d)
TAG="bp$$"
NS_ON=$TAG-on; NS_OFF=$TAG-off; NS_BASE=$TAG-base; NS_R=$TAG-r; NS_H=$TAG-h
HQ_IP=10.73.9.2; ON_IP=10.73.1.2; OFF_IP=10.73.2.2; BASE_IP=10.73.3.2
LABELS=(on off)
[ -n "${BENCH_BASE_BIN:-}" ] && LABELS+=(base)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 1
  for ns in $NS_ON $NS_OFF $NS_BASE $NS_R $NS_H; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

for ns in $NS_ON $NS_OFF $NS_BASE $NS_R $NS_H; do ip netns add "$ns"; ip -n "$ns" link set lo up; done
ip link add a0 netns $NS_ON type veth peer name r1 netns $NS_R
ip link add b0 netns $NS_OFF type veth peer name r2 netns $NS_R
ip link add c0 netns $NS_BASE type veth peer name r3 netns $NS_R
ip link add h0 netns $NS_H type veth peer name r9 netns $NS_R
addr() { ip -n "$1" addr add "$3/24" dev "$2"; ip -n "$1" link set "$2" up; }
addr $NS_ON a0 $ON_IP; addr $NS_R r1 10.73.1.1
addr $NS_OFF b0 $OFF_IP; addr $NS_R r2 10.73.2.1
addr $NS_BASE c0 $BASE_IP; addr $NS_R r3 10.73.3.1
addr $NS_H h0 $HQ_IP; addr $NS_R r9 10.73.9.1
ip -n $NS_ON route add default via 10.73.1.1
ip -n $NS_OFF route add default via 10.73.2.1
ip -n $NS_BASE route add default via 10.73.3.1
ip -n $NS_H route add default via 10.73.9.1
ip netns exec $NS_R sh -c 'echo 1 > /proc/sys/net/ipv4/ip_forward'
for ns in $NS_ON $NS_OFF $NS_BASE; do
  ip netns exec "$ns" sh -c 'echo "0 2147483647" > /proc/sys/net/ipv4/ping_group_range'
done

# Counters at the router: all UDP to/from the reflector port, and the pilot's 76-byte packets.
ip netns exec $NS_R nft -f - <<EOF
table inet count {
  counter on_up {}
  counter on_down {}
  counter on_pilot_up {}
  counter on_pilot_down {}
  counter off_up {}
  counter off_down {}
  counter base_up {}
  counter base_down {}
  chain through {
    type filter hook forward priority 10; policy accept;
    ip saddr $ON_IP udp dport 8637 counter name on_up
    ip daddr $ON_IP udp sport 8637 counter name on_down
    ip saddr $ON_IP udp dport 8637 udp length 84 counter name on_pilot_up
    ip daddr $ON_IP udp sport 8637 udp length 84 counter name on_pilot_down
    ip saddr $OFF_IP udp dport 8637 counter name off_up
    ip daddr $OFF_IP udp sport 8637 counter name off_down
    ip saddr $BASE_IP udp dport 8637 counter name base_up
    ip daddr $BASE_IP udp sport 8637 counter name base_down
  }
}
EOF
counter_bytes() {
  ip netns exec $NS_R nft list counter inet count "$1" | awk '/bytes/ { for (i = 1; i < NF; i++) if ($i == "bytes") print $(i + 1) }'
}

mkdir -p "$WORK/hq"
export XDG_DATA_HOME=$WORK/hq
export SHIFTREADY_HQ_DATABASE_URL="sqlite://$WORK/hq/hq.db"
SECRET=$("$HQ" enroll-secret create --site main | tail -n1 | tr -d '[:space:]')
printf '[shift]\nreadiness_bar = "any"\n' >"$WORK/policy.toml"
"$HQ" policy set --site main "$WORK/policy.toml" >&2
ip netns exec $NS_H "$HQ" serve --listen $HQ_IP:8640 --probe-listen $HQ_IP:8637 \
  >"$WORK/hq.out" 2>"$TARGET/bench-pilot-hq.log" &
PIDS+=($!)
for _ in $(seq 100); do grep -q "listening on" "$WORK/hq.out" && break; sleep 0.2; done

start=$(date -u -d '-1 minute' +%H:%M:%S)
end=$(date -u -d "+$((DUR + 40 * TRIALS * 2 + 900)) seconds" +%H:%M:%S)
day=$(date -u -d '-1 minute' +%a | tr '[:upper:]' '[:lower:]')
declare -A CFG PID
start_agent() { # LABEL NS PILOT [BINARY]
  local bin=${4:-$AGENT}
  local d=$WORK/$1
  mkdir -p "$d"
  printf '[shift]\nreadiness_bar = "any"\n' >"$d/policy.toml"
  cat >"$d/agent.toml" <<EOF
[hq]
url = "http://$HQ_IP:8640"
allow_plain_http = true

[agent]
state_dir = "state"
policy_file = "policy.toml"

[daemon]
notifications = false

[monitor]
pilot = $3

[schedule]
[[schedule.shift]]
days = ["$day"]
start = "$start"
end = "$end"
timezone = "UTC"
EOF
  CFG[$1]=$d/agent.toml
  HOME=$d ip netns exec "$2" "$bin" --config "$d/agent.toml" enroll --hq "http://$HQ_IP:8640" \
    --token "$SECRET" >/dev/null
  HOME=$d SHIFTREADY_LOG=shiftready=info NO_COLOR=1 ip netns exec "$2" "$bin" \
    --config "$d/agent.toml" run --headless 2>"$TARGET/bench-pilot-$1.log" &
  PID[$1]=$!
  PIDS+=($!)
}
start_agent on $NS_ON true
start_agent off $NS_OFF false
[ -n "${BENCH_BASE_BIN:-}" ] && start_agent base $NS_BASE true "$BENCH_BASE_BIN"
status() { "$AGENT" --config "${CFG[$1]}" status --json 2>/dev/null || echo '{}'; }
# grep -c reads to the end: with grep -q, `status` could be cut off mid-write and pipefail
# would call the match a failure.
signed_in() { status "$1" | grep -c '"signed_in": *true' >/dev/null; }
for l in "${LABELS[@]}"; do
  for _ in $(seq 600); do signed_in $l && break; sleep 0.5; done
  signed_in $l || { echo "$l did not sign in" >&2; cat "$TARGET/bench-pilot-$l.log" >&2; exit 1; }
done
for _ in $(seq 120); do grep -q "pilot stream to HQ's reflector" "$TARGET/bench-pilot-on.log" && break; sleep 0.5; done
grep -q "pilot stream to HQ's reflector" "$TARGET/bench-pilot-on.log" || { echo "the pilot did not start" >&2; exit 1; }
# node-exporter idling (not scraped) in the root namespace, for scale.
NE_VER="not installed"
if command -v prometheus-node-exporter >/dev/null; then
  prometheus-node-exporter --web.listen-address=127.0.0.1:0 >"$WORK/ne.log" 2>&1 &
  PID[ne]=$!; PIDS+=($!)
  NE_VER=$(prometheus-node-exporter --version 2>&1 | head -n1 | awk '{print $3}')
  MEASURED=("${LABELS[@]}" ne)
else
  MEASURED=("${LABELS[@]}")
fi
sleep 5

ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
switches() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
COUNTERS=(on_up on_down on_pilot_up on_pilot_down off_up off_down base_up base_down)
declare -A T0 W0 B0 RMAX RSUM
for l in "${MEASURED[@]}"; do T0[$l]=$(ticks "${PID[$l]}"); W0[$l]=$(switches "${PID[$l]}"); RMAX[$l]=0; RSUM[$l]=0; done
for c in "${COUNTERS[@]}"; do B0[$c]=$(counter_bytes $c); done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s.%N)
echo "$(date -u +%T) measuring for $DUR s" >&2
n=0; LSUM=0
while :; do
  now=$(date +%s.%N)
  awk -v a="$now" -v b="$t0" -v d="$DUR" 'BEGIN { exit !(a - b < d) }' || break
  for l in "${MEASURED[@]}"; do
    r=$(rss_kb "${PID[$l]}"); RSUM[$l]=$((RSUM[$l] + r)); [ "$r" -gt "${RMAX[$l]}" ] && RMAX[$l]=$r
  done
  LSUM=$(awk -v s="$LSUM" -v l="$(cut -d' ' -f1 /proc/loadavg)" 'BEGIN { print s + l }')
  n=$((n + 1))
  sleep 5
done
t1=$(date +%s.%N)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
load_mean=$(awk -v s="$LSUM" -v n="$n" 'BEGIN { printf "%.2f", s / n }')
HZ=$(getconf CLK_TCK)
declare -A CPU BPS WAKE
for l in "${MEASURED[@]}"; do
  CPU[$l]=$(awk -v a="$(ticks "${PID[$l]}")" -v b="${T0[$l]}" -v hz="$HZ" -v t1="$t1" -v t0="$t0" \
    'BEGIN { printf "%.3f", 100 * (a - b) / hz / (t1 - t0) }')
  WAKE[$l]=$(awk -v a="$(switches "${PID[$l]}")" -v b="${W0[$l]}" -v t1="$t1" -v t0="$t0" \
    'BEGIN { printf "%.1f", (a - b) / (t1 - t0) }')
done
for c in "${COUNTERS[@]}"; do
  BPS[$c]=$(awk -v a="$(counter_bytes $c)" -v b="${B0[$c]}" -v t1="$t1" -v t0="$t0" \
    'BEGIN { printf "%.2f", 8 * (a - b) / (t1 - t0) / 1000 }')
done

# Detection trials on the pilot-on daemon (and the first outage for the pilot-off one).
now() { date +%s.%N; }
is_open() { status "$1" | tr -d ' \n' | grep -c '"incidents":\[[^]]*"network_degraded"' >/dev/null; }
wait_state() { # LABEL want(1 open/0 closed) LIMIT_S START → seconds since START, or "-"
  local until; until=$(awk -v s="$(now)" -v l="$3" 'BEGIN { printf "%.3f", s + l }')
  while awk -v a="$(now)" -v u="$until" 'BEGIN { exit !(a < u) }'; do
    if is_open "$1"; then [ "$2" = 1 ] && { awk -v a="$(now)" -v s="$4" 'BEGIN { printf "%.1f", a - s }'; return; }
    else [ "$2" = 0 ] && { awk -v a="$(now)" -v s="$4" 'BEGIN { printf "%.1f", a - s }'; return; }; fi
    sleep 0.2
  done
  echo "-"
}
impair() { ip netns exec $NS_R nft -f - <<EOF
table inet imp {
  chain through {
    type filter hook forward priority 0; policy accept;
    $1
  }
}
EOF
}
heal() { ip netns exec $NS_R nft delete table inet imp 2>/dev/null || true; }
OUT=(); LOSS=(); ENDS=(); OFF_OUT="not measured (--quick)"
for i in $(seq "$TRIALS"); do
  if [ "$i" = 1 ] && [ "$QUICK" = 0 ]; then
    impair "ip saddr { $ON_IP, $OFF_IP } ip daddr $HQ_IP drop; ip daddr { $ON_IP, $OFF_IP } ip saddr $HQ_IP drop"
  else
    impair "ip saddr $ON_IP ip daddr $HQ_IP drop; ip daddr $ON_IP ip saddr $HQ_IP drop"
  fi
  s=$(now)
  echo "$(date -u +%T) trial $i: outage" >&2
  OUT+=("$(wait_state on 1 30 "$s")")
  if [ "$i" = 1 ] && [ "$QUICK" = 0 ]; then OFF_OUT="$(wait_state off 1 240 "$s") s"; fi
  heal; h=$(now)
  ENDS+=("$(wait_state on 0 180 "$h")")
  sleep 3
  impair "ip saddr $ON_IP udp dport 8637 numgen random mod 100 < 50 drop"
  s=$(now)
  echo "$(date -u +%T) trial $i: loss burst (outage raised after ${OUT[-1]} s)" >&2
  ( sleep 5; heal ) &
  healer=$!
  LOSS+=("$(wait_state on 1 20 "$s")")
  wait "$healer"
  heal; h=$(now)
  ENDS+=("$(wait_state on 0 180 "$h")")
  [ "$OFF_OUT" = "- s" ] && OFF_OUT="not raised within 240 s"
  sleep 3
done

rss_of() { awk -v a="${RMAX[$1]}" -v s="${RSUM[$1]}" -v n=$n 'BEGIN { printf "%.1f / %.1f", a / 1024, s / n / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }'; }
HAS_BASE=0; [ -n "${BENCH_BASE_BIN:-}" ] && HAS_BASE=1
HAS_NE=0; [ -n "${PID[ne]:-}" ] && HAS_NE=1
cols() { # ON OFF [BASE] [NE] cells, as the run has them
  printf '| %s | %s |' "$1" "$2"
  [ $HAS_BASE = 1 ] && printf ' %s |' "$3"
  [ $HAS_NE = 1 ] && printf ' %s |' "$4"
  return 0
}
echo "## Pilot stream (issue 15): $(date -u +%Y-%m-%d), ${MIN} min window, $TRIALS trials"
echo
echo "Headless release daemons signed in side by side (real checks, once-a-minute probe in each),"
echo "HQ and a router in network namespaces; \`$([ $HAS_BASE = 1 ] && echo 'BENCH_BASE_BIN=… ')scripts/bench_pilot.sh$([ $QUICK = 1 ] && echo ' --quick')\`."
echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(uname -r)."
echo "Load average: $load0 at the start, $load1 at the end, 1-minute mean over the window $load_mean."
[ $HAS_NE = 1 ] && echo "node-exporter: $NE_VER, idle, not scraped."
echo
printf '| '; cols "pilot on" "pilot off (today's behaviour)" "pilot on, BENCH_BASE_BIN build" "node-exporter"; echo " floor |"
printf '|---'; cols "---" "---" "---" "---"; echo "---|"
printf '| CPU, %% of one core '; cols "${CPU[on]}" "${CPU[off]}" "${CPU[base]:-}" "${CPU[ne]:-}"; echo " ≤ 0.1 (on) |"
printf '| CPU, ratio to pilot off '; cols "$(ratio "${CPU[on]}" "${CPU[off]}")" "1" "$(ratio "${CPU[base]:-0}" "${CPU[off]}")" "$(ratio "${CPU[ne]:-0}" "${CPU[off]}")"; echo " |"
printf '| wake-ups (context switches) per second '; cols "${WAKE[on]}" "${WAKE[off]}" "${WAKE[base]:-}" "${WAKE[ne]:-}"; echo " |"
printf '| RSS max / mean, MB '; cols "$(rss_of on)" "$(rss_of off)" "$([ $HAS_BASE = 1 ] && rss_of base)" "$([ $HAS_NE = 1 ] && rss_of ne)"; echo " ≤ 20 |"
printf '| UDP to/from the reflector, kbit/s up / down (all) '; cols "${BPS[on_up]} / ${BPS[on_down]}" "${BPS[off_up]} / ${BPS[off_down]}" "${BPS[base_up]} / ${BPS[base_down]}" "–"; echo " |"
printf '| of which the pilot, kbit/s up / down '; cols "${BPS[on_pilot_up]} / ${BPS[on_pilot_down]}" "0" "" "–"; echo " ≤ 2 each way |"
printf '| outage raised after, s (each trial) '; cols "${OUT[*]}" "$OFF_OUT" "" ""; echo " ≤ 10 |"
printf '| 5 s loss burst (50 %% up) raised after, s '; cols "${LOSS[*]}" "" "" ""; echo " ≤ 10 |"
printf '| ended after recovery, s (each: outage, burst, …) '; cols "${ENDS[*]}" "" "" ""; echo " |"
