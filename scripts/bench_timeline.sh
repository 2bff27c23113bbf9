#!/usr/bin/env bash
# The agent page and the timeline API with 30 days of per-minute samples (issue 17 part 2:
# "the agent page with 30 days of per-minute samples under 300 ms").
#
#   scripts/bench_timeline.sh [sqlite|postgres|both]      (default: both)
#
# For each database: a fresh database (migrated by the release HQ), one target agent and OTHERS
# more (default 50), each with 30 days of per-minute samples (43,200 rows an agent, written
# minute by minute across the agents as ingest writes them) and their hourly roll-ups, 60
# incidents and 60 sign-ins/outs for the target; then a release HQ (`serve`) and REPS (default
# 20) sequential GETs of each URL below with an API token, timed by curl (time_total, ms):
#   page 24h / 7d / 30d       GET /agents/{id}?range=...   (the timeline section: 1,440 minutes,
#                                                          168 hours, 720 hours)
#   api 24h                   GET /api/v1/agents/{id}/timeline          (1,440 minute rows)
#   api 2d                    ...?from=now-2d                           (2,880 minute rows)
#   api 30d                   ...?from=now-30d                          (720 hour rows)
#   csv 2d                    GET /api/v1/agents/{id}/timeline.csv?from=now-2d
# Prints the median and the worst of each. Environment: OTHERS, REPS, PORT (18760),
# PG_ADMIN_URL (the local socket as this user), CARGO_TARGET_DIR, HQ_BIN. Measure when `uptime` shows
# the machine otherwise idle.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
OTHERS=${OTHERS:-50}
REPS=${REPS:-20}
PORT=${PORT:-18760}
PG_ADMIN_URL=${PG_ADMIN_URL:-"postgres:///postgres?host=/var/run/postgresql&user=$(id -un)"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

# HQ_BIN: a binary to measure instead of the release build (e.g. a debug one, for a quick look).
if [ -n "${HQ_BIN:-}" ]; then
  BIN=$HQ_BIN
else
  cargo build --release -p shiftready-hq >&2
  BIN=$TARGET_DIR/release/shiftready-hq
fi
WORK=$(mktemp -d)
HQ_PID=""
cleanup() {
  if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; wait "$HQ_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

NOW_MS=$(( $(date +%s) * 1000 ))
MIN0=$(( NOW_MS - NOW_MS % 60000 - 43199 * 60000 ))
echo "machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p')"
echo "run: target + $OTHERS other agents x 43200 minutes, $REPS requests per URL"

# The seed, in SQL both databases run (recursive CTE in SQLite, generate_series-like CTE in
# PostgreSQL too). $1: the SQL of "0 .. n-1" as a table `k(k)` for n = $2.
seed_sql() {
  local series_devices=$1 series_minutes=$2 modulo=$3
  cat <<SQL
INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, enrolled_at, last_seen,
  readiness, readiness_at, signed_in)
SELECT CASE WHEN k = 0 THEN 'target-agent' ELSE 'other-' || k END, 'main',
  CASE WHEN k = 0 THEN 'ws-target' ELSE 'ws-other-' || k END, 'Debian 12', '0.1.0',
  'hash-' || k, $MIN0, $NOW_MS, 'ready', $NOW_MS, 1
FROM ($series_devices) AS d;
INSERT INTO minute_samples (device_id, minute, seconds, rtt_p50_ms, rtt_p95_ms, jitter_up_ms,
  jitter_down_ms, loss_up_pct, loss_down_pct, mos_min, gateway_rtt_p50_ms, gateway_loss_pct,
  link, link_down_seconds, wifi_signal_dbm, headset, noise_dba, noise_class)
SELECT CASE WHEN d.k = 0 THEN 'target-agent' ELSE 'other-' || d.k END, $MIN0 + m.k * CAST(60000 AS BIGINT), 60,
  20 + $modulo(m.k, 7), 30 + $modulo(m.k, 13), 2.5, 3.5,
  CASE WHEN $modulo(m.k, 997) = 0 THEN 100 ELSE 0 END, $modulo(m.k, 50) / 10.0, 4.3, 1.2, 0,
  'wifi', 0, -60, 1, 40, 'quiet'
FROM ($series_minutes) AS m CROSS JOIN ($series_devices) AS d
ORDER BY m.k, d.k;
INSERT INTO sample_hours (device_id, hour, minutes, seconds, rtt_p50_sum, rtt_p50_n,
  rtt_p95_max, jitter_up_max, jitter_down_max, loss_up_max, loss_down_max, loss_up_sum,
  loss_up_n, loss_down_sum, loss_down_n, mos_min, gateway_rtt_p50_sum, gateway_rtt_p50_n,
  gateway_loss_max, link_down_seconds, wifi_signal_min, headset_missing_minutes, noise_dba_max)
SELECT device_id, minute - $modulo(minute, 3600000), COUNT(*), SUM(seconds), SUM(rtt_p50_ms),
  COUNT(rtt_p50_ms), MAX(rtt_p95_ms), MAX(jitter_up_ms), MAX(jitter_down_ms), MAX(loss_up_pct),
  MAX(loss_down_pct), SUM(loss_up_pct), COUNT(loss_up_pct), SUM(loss_down_pct),
  COUNT(loss_down_pct), MIN(mos_min), SUM(gateway_rtt_p50_ms), COUNT(gateway_rtt_p50_ms),
  MAX(gateway_loss_pct), SUM(link_down_seconds), MIN(wifi_signal_dbm),
  SUM(CASE WHEN headset = 0 THEN 1 ELSE 0 END), MAX(noise_dba)
FROM minute_samples GROUP BY device_id, minute - $modulo(minute, 3600000);
INSERT INTO events (id, device_id, kind, at, received_at, body)
SELECT 'inc-' || m.k || '-' || s.k, 'target-agent', 'incident', $MIN0 + m.k * 720 * CAST(60000 AS BIGINT) + s.k * 120000,
  $NOW_MS, '{"kind":"incident","name":"network_degraded","state":"'
  || CASE WHEN s.k = 0 THEN 'started' ELSE 'ended' END || '","detail":"loss"}'
FROM (SELECT k FROM ($series_minutes) AS x WHERE k < 60) AS m
CROSS JOIN (SELECT k FROM ($series_minutes) AS y WHERE k < 2) AS s;
INSERT INTO shift_log (device_id, kind, reason, at, readiness, event_id, received_at, flags)
SELECT 'target-agent', CASE WHEN s.k = 0 THEN 'sign_in' ELSE 'sign_out' END, 'auto',
  $MIN0 + m.k * 1440 * CAST(60000 AS BIGINT) + s.k * 480 * CAST(60000 AS BIGINT), 'ready', 'shift-' || m.k || '-' || s.k,
  $NOW_MS, ''
FROM (SELECT k FROM ($series_minutes) AS x WHERE k < 30) AS m
CROSS JOIN (SELECT k FROM ($series_minutes) AS y WHERE k < 2) AS s;
SQL
}

# Median and worst of curl's time_total over REPS requests, in ms.
time_url() {
  local label=$1 path=$2 t
  : >"$WORK/times"
  for _ in $(seq 1 "$REPS"); do
    t=$(curl -fsS -o "$WORK/body" -w '%{time_total}' -H "Authorization: Bearer $TOKEN" \
      "http://127.0.0.1:$PORT$path")
    echo "$t" >>"$WORK/times"
  done
  sort -n "$WORK/times" | awk -v label="$label" -v bytes="$(wc -c <"$WORK/body")" \
    '{ a[NR] = $1 * 1000 } END { printf "%-10s median %7.1f ms   worst %7.1f ms   (%d bytes)\n", label, a[int((NR + 1) / 2)], a[NR], bytes }'
}

run_one() {
  local label=$1 url=$2
  echo
  echo "== $label =="
  "$BIN" --database-url "$url" enroll-secret create --site main >/dev/null
  TOKEN=$("$BIN" --database-url "$url" token create --role viewer | tail -n 1)
  local t0=$SECONDS
  case $label in
    sqlite)
      seed_sql "WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < $OTHERS) SELECT k FROM s" \
        "WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < 43199) SELECT k FROM s" \
        mod_sqlite | sed 's/mod_sqlite(\([^,]*\), \([^)]*\))/((\1) % (\2))/g' >"$WORK/seed.sql"
      sqlite3 "${url#sqlite://}" <"$WORK/seed.sql"
      sqlite3 "${url#sqlite://}" "ANALYZE"
      ;;
    postgres)
      seed_sql "SELECT generate_series(0, $OTHERS) AS k" "SELECT generate_series(0, 43199) AS k" mod \
        >"$WORK/seed.sql"
      psql -q "${url}" -v ON_ERROR_STOP=1 -f "$WORK/seed.sql"
      psql -q "${url}" -c "VACUUM ANALYZE"
      ;;
  esac
  echo "seeded in $((SECONDS - t0)) s"
  "$BIN" --database-url "$url" serve --listen "127.0.0.1:$PORT" --probe-listen off \
    >"$WORK/hq.log" 2>&1 &
  HQ_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  local from2d from30d
  from2d=$(date -u -d '-2 days +1 minute' +%Y-%m-%dT%H:%M:%SZ)
  from30d=$(date -u -d '-30 days' +%Y-%m-%dT%H:%M:%SZ)
  time_url "page 24h" "/agents/target-agent?range=24h"
  time_url "page 7d" "/agents/target-agent?range=7d"
  time_url "page 30d" "/agents/target-agent?range=30d"
  time_url "api 24h" "/api/v1/agents/target-agent/timeline"
  time_url "api 2d" "/api/v1/agents/target-agent/timeline?from=$from2d"
  time_url "api 30d" "/api/v1/agents/target-agent/timeline?from=$from30d"
  time_url "csv 2d" "/api/v1/agents/target-agent/timeline.csv?from=$from2d"
  curl -fsS -H "Authorization: Bearer $TOKEN" \
    "http://127.0.0.1:$PORT/api/v1/agents/target-agent/timeline?from=$from2d" |
    python3 -c 'import json,sys; v=json.load(sys.stdin); print("check: api 2d =", v["resolution"], len(v["samples"]), "rows,", len(v["incidents"]), "incidents,", len(v["shifts"]), "shift events")'
  kill "$HQ_PID"
  wait "$HQ_PID" 2>/dev/null || true
  HQ_PID=""
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
  run_one sqlite "sqlite://$WORK/hq.db"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  db="bench_timeline_$$"
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
  run_one postgres "postgres:///$db?host=/var/run/postgresql&user=$(id -un)"
  psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $db"
fi
