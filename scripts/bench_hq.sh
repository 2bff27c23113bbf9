#!/usr/bin/env bash
# HQ under a simulated fleet: the figures of BENCHMARKS.md `## HQ`.
#
#   scripts/bench_hq.sh [sqlite|postgres|both]      (default: both)
#   SATURATE=1 scripts/bench_hq.sh [sqlite|postgres|both]
#
# SATURATE=1: HQ's saturated throughput per core against a bare axum handler's, same client,
# same run (issue 17 part 2). HQ and `shiftready-hq bare-axum` both pinned to CPU HQ_CPU (0),
# the generator to GEN_CPU (1); PostgreSQL's server processes stay where the system runs them
# (unpinned) and their CPU is reported on its own. `simulate --saturate`: CONCURRENCY clients in
# a closed loop, phases bare / HQ / bare of PHASE seconds (20) each; per phase: requests/s and
# the CPU per request of the server (HQ or bare), PostgreSQL and the generator, and how busy
# the pinned CPU's server was. HQ_BIN=path serves another build of HQ (e.g. an older commit;
# the generator and the bare handler are always this tree's).
#
# Environment: AGENTS (100000), INTERVAL (30 s), DURATION (60 s), BARE (5 s of the bare axum
# ceiling), CONCURRENCY (256), PORT (18700), PG_ADMIN_URL (the local socket as this user),
# CARGO_TARGET_DIR, SAMPLES (set: every other heartbeat of an agent carries its minute's
# `sample` event, one per agent a minute at INTERVAL=30). For each database: a fresh database, a release HQ (`serve`), then
# `simulate` against it; prints simulate's figures, the load average before and after, and the
# CPU time per heartbeat of HQ, of the database's own processes (PostgreSQL) and of the
# load generator, read from /proc over the load phase only (not provisioning). A run of both
# takes about three minutes. Measure when `uptime` shows the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
AGENTS=${AGENTS:-100000}
INTERVAL=${INTERVAL:-30}
DURATION=${DURATION:-60}
BARE=${BARE:-5}
CONCURRENCY=${CONCURRENCY:-256}
PORT=${PORT:-18700}
PG_ADMIN_URL=${PG_ADMIN_URL:-"postgres:///postgres?host=/var/run/postgresql&user=$(id -un)"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

SATURATE=${SATURATE:-0}
PHASE=${PHASE:-20}
HQ_CPU=${HQ_CPU:-0}
GEN_CPU=${GEN_CPU:-1}

if [ -z "${SIM_BIN:-}" ]; then
  cargo build --release -p shiftready-hq >&2
fi
BIN=${SIM_BIN:-$TARGET_DIR/release/shiftready-hq}
HQ_BIN=${HQ_BIN:-$BIN}
BARE_PID=""
TICKS=$(getconf CLK_TCK)
WORK=$(mktemp -d)
HQ_PID=""
cleanup() {
  if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; wait "$HQ_PID" 2>/dev/null || true; fi
  if [ -n "$BARE_PID" ]; then kill "$BARE_PID" 2>/dev/null || true; wait "$BARE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# utime + stime of one process, in clock ticks.
cpu_of() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# utime + stime of every PostgreSQL server process, in clock ticks.
cpu_pg() {
  local t=0 p
  for p in $(pgrep -x postgres || true); do t=$((t + $(cpu_of "$p"))); done
  echo "$t"
}

echo "machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p')"
if [ "$SATURATE" = 1 ]; then
  echo "run: saturated, agents=$AGENTS clients=$CONCURRENCY phase=${PHASE}s, HQ and bare axum on CPU $HQ_CPU, generator on CPU $GEN_CPU, HQ binary $HQ_BIN"
else
  echo "run: agents=$AGENTS interval=${INTERVAL}s duration=${DURATION}s bare=${BARE}s concurrency=$CONCURRENCY"
fi

# The saturated comparison on one database (see the top of this file).
run_saturated() {
  local label=$1 url=$2 bare_port=$((PORT + 1))
  echo
  echo "== $label, saturated =="
  taskset -c "$HQ_CPU" "$HQ_BIN" --database-url "$url" serve --listen "127.0.0.1:$PORT" \
    --probe-listen off >"$WORK/hq.log" 2>&1 &
  HQ_PID=$!
  taskset -c "$HQ_CPU" "$BIN" bare-axum --listen "127.0.0.1:$bare_port" >"$WORK/bare.log" 2>&1 &
  BARE_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 &&
      curl -fsS -X POST -d '{}' "http://127.0.0.1:$bare_port/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local srv=0 s0=0 p0=0 g0=0 t0=0 gen_pid gen
  exec 3< <(taskset -c "$GEN_CPU" "$BIN" --database-url "$url" simulate --saturate \
    --agents "$AGENTS" --duration "$PHASE" --concurrency "$CONCURRENCY" \
    --bare-target "http://127.0.0.1:$bare_port" --target "http://127.0.0.1:$PORT" 2>&1
    echo "exit: $?")
  gen_pid=$!
  while IFS= read -r line <&3; do
    echo "$line"
    gen=$(pgrep -P "$gen_pid" | head -1 || true); gen=${gen:-$gen_pid}
    case "$line" in
      *"simulate: phase "*" start")
        case "$line" in *"phase hq "*) srv=$HQ_PID ;; *) srv=$BARE_PID ;; esac
        s0=$(cpu_of "$srv"); p0=$(cpu_pg); g0=$(cpu_of "$gen"); t0=$(date +%s.%N) ;;
      *"simulate: phase "*" end:"*)
        local n
        n=$(echo "$line" | sed -n 's/.* (\([0-9]*\) answered in all).*/\1/p')
        awk -v s=$(($(cpu_of "$srv") - s0)) -v p=$(($(cpu_pg) - p0)) -v g=$(($(cpu_of "$gen") - g0)) \
          -v n="${n:-0}" -v t="$TICKS" -v w="$(echo "$(date +%s.%N) - $t0" | bc)" -v pg="$label" \
          -v la="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
          if (n == 0) exit
          printf "  cpu per request: server %.1f us (its CPU %.0f %% busy)", s / t / n * 1e6, s / t / w * 100
          if (pg ~ /postgres/) printf ", PostgreSQL processes %.1f us", p / t / n * 1e6
          printf ", generator %.1f us (%.0f %% busy); load %s\n", g / t / n * 1e6, g / t / w * 100, la }' ;;
    esac
  done
  exec 3<&-
  curl -fsS "http://127.0.0.1:$PORT/metrics" 2>/dev/null | grep -E "^shiftready_(ingest_transactions_total|events_total)" | sed 's/^/hq metrics: /' || true
  kill "$HQ_PID" "$BARE_PID"; wait "$HQ_PID" "$BARE_PID" 2>/dev/null || true; HQ_PID=""; BARE_PID=""
  if grep -qiE "panic|error" "$WORK/hq.log"; then echo "HQ log:"; tail -5 "$WORK/hq.log"; fi
}

run_one() {
  if [ "$SATURATE" = 1 ]; then run_saturated "$@"; return; fi
  local label=$1 url=$2
  echo
  echo "== $label =="
  "$HQ_BIN" --database-url "$url" serve --listen "127.0.0.1:$PORT" --probe-listen off \
    >"$WORK/hq.log" 2>&1 &
  HQ_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local hq0=0 pg0=0 gen0=0 hq1=0 pg1=0 gen1=0 sent=0 gen_pid
  exec 3< <("$BIN" --database-url "$url" simulate --agents "$AGENTS" --interval "$INTERVAL" \
    --duration "$DURATION" --bare-seconds "$BARE" --concurrency "$CONCURRENCY" \
    ${SAMPLES:+--samples} --target "http://127.0.0.1:$PORT" 2>&1; echo "exit: $?")
  gen_pid=$!
  while IFS= read -r line <&3; do
    echo "$line"
    case "$line" in
      *"bare axum handler ceiling"*)
        hq0=$(cpu_of "$HQ_PID"); pg0=$(cpu_pg); gen0=$(cpu_of "$(pgrep -P "$gen_pid" -x shiftready-hq || echo $gen_pid)")
        echo "load at start of the load phase: $(cut -d' ' -f1-3 /proc/loadavg)" ;;
      *"simulate: sent "*)
        hq1=$(cpu_of "$HQ_PID"); pg1=$(cpu_pg); gen1=$(cpu_of "$(pgrep -P "$gen_pid" -x shiftready-hq || echo $gen_pid)")
        sent=$(echo "$line" | sed -n 's/.*sent \([0-9]*\) heartbeats.*/\1/p')
        echo "load at end of the load phase: $(cut -d' ' -f1-3 /proc/loadavg)" ;;
    esac
  done
  exec 3<&-
  if [ "${sent:-0}" -gt 0 ]; then
    awk -v h=$((hq1 - hq0)) -v p=$((pg1 - pg0)) -v g=$((gen1 - gen0)) -v n="$sent" -v t="$TICKS" -v pg="$label" 'BEGIN {
      printf "cpu per heartbeat: HQ %.0f us", h / t / n * 1e6
      if (pg ~ /postgres/) printf ", PostgreSQL processes %.0f us", p / t / n * 1e6
      printf ", load generator %.0f us\n", g / t / n * 1e6 }'
  fi
  curl -fsS "http://127.0.0.1:$PORT/metrics" 2>/dev/null | grep -E "^shiftready_(ingest_transactions_total|events_total)" | sed 's/^/hq metrics: /' || true
  kill "$HQ_PID"; wait "$HQ_PID" 2>/dev/null || true; HQ_PID=""
  if grep -qiE "panic|error" "$WORK/hq.log"; then echo "HQ log:"; tail -5 "$WORK/hq.log"; fi
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
  run_one sqlite "sqlite://$WORK/hq.db"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  if ! pg_isready -q -h /var/run/postgresql; then
    echo "bench_hq: PostgreSQL is not running; start it as scripts/test.sh does" \
      "(pg_ctlcluster 15 main start; createuser --superuser $(id -un) as postgres)" >&2
    exit 1
  fi
  db="shiftready_bench_$$"
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  run_one postgres "postgres:///$db?host=/var/run/postgresql&user=$(id -un)"
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db"
fi
