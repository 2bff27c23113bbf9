#!/usr/bin/env bash
# The fleet page at 100,000 agents, every sort and filter (issue 17 part 2: "the fleet page with
# 100,000 agents stays under 300 ms for every sort and filter").
#
#   scripts/bench_fleet.sh [sqlite|postgres|both]      (default: both)
#
# For each database: a fresh database (migrated by the release HQ), AGENTS (default 100,000)
# devices seeded in SQL both databases run, spread over 20 sites with the variety of a real
# fleet: 55 % signed in (80 % of them ready, 10 % degraded, 5 % not ready, 5 % whose last
# heartbeat said unknown so the state comes from the last report's JSON), 2 % signed in but
# silent for an hour (offline), 25 % signed out and heard from in the last 4 minutes (idle),
# 5 % signed out by HQ for lost contact (3 % still silent: offline; 2 % heard from since:
# idle), 10 % signed out and silent for 1 hour to 30 days (offline), 1 % never heard from,
# 1 % revoked or waiting to re-enroll; every device heard from has a last report (a 1.6 KB
# JSON document like an agent's, with what to fix when not ready or degraded) and 5 % have an
# incident event. Then a release HQ (`serve`, its lost-contact sweep running as in
# production) and, for each sort (name, state, last seen; ascending and descending) and each
# filter (none; a search matching 100 agents, one matching every agent, one matching none;
# each state of the State menu; a site; a site and a state), REPS (default 5) sequential GETs
# of the fleet page (`/`, 50 rows), timed by curl: "server" is the time to the first byte
# after the request was sent (HQ answers with the whole page at once), "total" to the last
# byte. Also the last page of each sort (a deep OFFSET), the JSON API's first page
# (`/api/v1/agents?limit=50`) of each sort with and without a state filter, and the full
# exports (`/api/v1/agents` and `/api/v1/agents.csv`, all 100,000 rows; no floor applies).
# Before each sort (and each URL when 30 s have passed) the seeded times are moved forward by
# the time that passed, so every agent keeps its state through the run. Prints the median and the worst of each, the
# agents the page says match, and a checksum of the listed ids (to compare two builds), then
# one table of both databases.
#
# Environment: AGENTS, REPS, PORT (18780), PG_ADMIN_URL (the local socket as this user),
# CARGO_TARGET_DIR, HQ_BIN (a binary to measure instead of the release build), ONLY (a
# regular expression: only the rows whose label matches, e.g. to rerun the worst one).
# Measure when `uptime` shows the machine otherwise idle; the load average is printed.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-both}
AGENTS=${AGENTS:-100000}
REPS=${REPS:-5}
PORT=${PORT:-18780}
ONLY=${ONLY:-}
PG_ADMIN_URL=${PG_ADMIN_URL:-"postgres:///postgres?host=/var/run/postgresql&user=$(id -un)"}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [ -n "${HQ_BIN:-}" ]; then
  BIN=$HQ_BIN
else
  cargo build --release -p shiftready-hq >&2
  BIN=$TARGET_DIR/release/shiftready-hq
fi
WORK=$(mktemp -d)
HQ_PID=""
PG_DB=""
cleanup() {
  if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; wait "$HQ_PID" 2>/dev/null || true; fi
  if [ -n "$PG_DB" ]; then psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

echo "machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p'), $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "run: $AGENTS agents, $REPS requests per URL, load at start: $(cut -d' ' -f1-3 /proc/loadavg)"

# A report as an agent sends it (about 1.6 KB stored), with readiness R (an SQL expression).
report_sql() {
  local r=$1
  cat <<SQL
'{"schema":1,"readiness":"' || $r || '","checks":{"os":{"status":"pass","metrics":{"name":"Windows 11 Pro","version":"10.0.22631","uptime_s":86400,"pending_reboot":false},"hint":""},"hardware":{"status":"pass","metrics":{"cpu_pct":23.5,"mem_free_mb":4096,"disk_free_gb":112.4,"battery_pct":null,"on_ac":true},"hint":""},"network":{"status":"' || CASE WHEN $r = 'ready' THEN 'pass' ELSE 'warn' END || '","metrics":{"target":"hq.example.com:8641","rtt_ms_median":23.4,"rtt_ms_p95":41.2,"jitter_up_ms":2.3,"jitter_down_ms":3.1,"loss_up_pct":0.2,"loss_down_pct":0.5,"mos":4.31,"gateway_rtt_ms":1.2,"gateway_loss_pct":0.0,"link":"wifi","wifi_signal_dbm":-61,"wifi_ssid":"corp","vpn":false,"dns_ms":12.0,"bufferbloat_ms":35.5},"hint":"' || CASE WHEN $r = 'ready' THEN '' ELSE 'Your connection loses packets; move closer to the access point or use a cable.' END || '"},"headset":{"status":"' || CASE WHEN $r = 'not_ready' THEN 'fail' ELSE 'pass' END || '","metrics":{"device":"Jabra Evolve2 40","transport":"usb","mic_muted":false,"default_output":true,"default_input":true},"hint":"' || CASE WHEN $r = 'not_ready' THEN 'Plug in your headset.' ELSE '' END || '"},"noise":{"status":"pass","metrics":{"laeq_dbfs":-52.1,"lmax_dbfs":-31.0,"noise_floor_dbfs":-61.3,"classification":"quiet","seconds":10.0},"hint":""},"softphone":{"status":"pass","metrics":{"name":"Genesys Cloud","running":true,"version":"2.41.0"},"hint":""}},"started_at":"2026-12-01T08:00:00Z","finished_at":"2026-12-01T08:00:12Z","agent_version":"0.6.0","hostname":"seeded"}'
SQL
}

# The seed, in SQL both databases run. $1: the SQL of the table k(k) = 0 .. AGENTS-1; $2 the
# modulo function's name (the sed below turns mod_sqlite(a, b) into ((a) % (b)) for SQLite).
seed_sql() {
  local series=$1 modulo=$2 now=$3 report_col report_val
  # Before migration 0012 the report was a column of devices; since, a table of its own and
  # the device keeps its readiness.
  if [ "$NARROW" = 1 ]; then
    report_col=report_readiness report_val=rep
  else
    report_col=last_report report_val=$(report_sql rep)
  fi
  # c: the category (a device's k scattered over 0..99), q: its readiness draw, s: its site.
  cat <<SQL
INSERT INTO sites (name, policy, etag, offline_ms, updated_at, idle_ms)
SELECT 'site-' || (10 + k), policy, etag, offline_ms, updated_at, idle_ms
FROM sites CROSS JOIN (SELECT k FROM ($series) AS x WHERE k < 20) AS n WHERE name = 'main';
CREATE TABLE seed_k AS
SELECT k, $modulo(k * 37, 100) AS c, $modulo(k * 53 + k / 100, 100) AS q,
  $modulo(k, 20) AS s FROM ($series) AS x;
CREATE TABLE seed_d AS
SELECT k, c, s,
  CASE WHEN q < 80 THEN 'ready' WHEN q < 90 THEN 'degraded' WHEN q < 95 THEN 'not_ready'
    ELSE 'unknown' END AS hb,
  CASE WHEN q < 80 THEN 'ready' WHEN q < 90 THEN 'degraded' WHEN q < 95 THEN 'not_ready'
    WHEN q < 97 THEN 'ready' WHEN q < 98 THEN 'not_ready' ELSE 'unknown' END AS rep,
  CASE WHEN c = 2 THEN NULL
    WHEN c < 2 THEN $now - CAST(86400000 AS BIGINT) * (1 + $modulo(k, 30))
    WHEN c < 58 THEN $now - 1000 * $modulo(k, 25)
    WHEN c < 60 THEN $now - 3600000 - 1000 * $modulo(k, 600)
    WHEN c < 85 THEN $now - 1000 * $modulo(k, 240)
    WHEN c < 88 THEN $now - 600000 - 1000 * $modulo(k, 3000)
    WHEN c < 90 THEN $now - 1000 * $modulo(k, 240)
    ELSE $now - 3600000 - CAST(1000 AS BIGINT) * $modulo(k * 7919, 2592000) END AS seen
FROM seed_k;
INSERT INTO devices (id, site, hostname, os, agent_version, key_hash, enrolled_at, status,
  last_seen, readiness, readiness_at, signed_in, shift_at, shift_reason, skew_ms, $report_col,
  problem, report_at, report_received_at)
SELECT 'd' || (100000 + $modulo(k * 7919, 100003)), 'site-' || (10 + s),
  'ws-' || (100000 + k), 'Windows 11 Pro', '0.6.0', 'seed-' || k,
  $now - CAST(86400000 AS BIGINT) * 60,
  CASE WHEN c = 0 THEN 'revoked' WHEN c = 1 THEN 'reenroll' ELSE 'active' END,
  seen,
  CASE WHEN seen IS NULL THEN NULL ELSE hb END,
  seen,
  CASE WHEN c >= 3 AND c < 60 THEN 1 ELSE 0 END,
  CASE WHEN c >= 85 AND c < 88 THEN seen + 90000 WHEN c >= 88 AND c < 90 THEN seen - 600000
    WHEN c >= 60 THEN seen - 60000 ELSE seen - 7200000 END,
  CASE WHEN c >= 85 AND c < 90 THEN 'lost_contact' WHEN c >= 60 THEN 'agent' ELSE 'agent' END,
  $modulo(k, 200) - 100,
  CASE WHEN seen IS NULL THEN NULL ELSE $report_val END,
  CASE WHEN seen IS NULL OR rep = 'ready' THEN NULL
    WHEN rep = 'degraded' THEN 'network warn: Your connection loses packets; move closer to the access point or use a cable.'
    ELSE 'headset fail: Plug in your headset.' END,
  seen - 1200000, seen - 1199000
FROM seed_d;
INSERT INTO events (id, device_id, kind, at, received_at, body)
SELECT 'inc-' || k, 'd' || (100000 + $modulo(k * 7919, 100003)), 'incident', seen - 300000,
  seen - 299000, '{"kind":"incident","name":"network_degraded","state":"started","detail":"loss 4 %"}'
FROM seed_d WHERE seen IS NOT NULL AND $modulo(k, 20) = 3;
$(if [ "$NARROW" = 1 ]; then echo "INSERT INTO device_reports (device_id, report)
SELECT 'd' || (100000 + $modulo(k * 7919, 100003)), $(report_sql rep) FROM seed_d WHERE seen IS NOT NULL;"; fi)
DROP TABLE seed_d;
DROP TABLE seed_k;
SQL
}

# Moves every seeded time forward to now, so each agent keeps its state through the run.
SEEDED_AT=0
shift_times() {
  local now d
  now=$(( $(date +%s%3N) ))
  d=$(( now - SEEDED_AT ))
  SEEDED_AT=$now
  local sql="UPDATE devices SET last_seen = last_seen + $d, readiness_at = readiness_at + $d,
    shift_at = shift_at + $d, report_at = report_at + $d, report_received_at = report_received_at + $d"
  # HQ's lost-contact sweep updates devices too: on a deadlock PostgreSQL cancels one, so retry.
  for _ in 1 2 3 4 5; do
    case $DB_KIND in
      sqlite) sqlite3 -cmd ".timeout 10000" "$DB_FILE" "$sql" && return 0 ;;
      postgres) psql -q "$DB_URL" -c "$sql" 2>/dev/null && return 0 ;;
    esac
    sleep 0.5
  done
  echo "bench_fleet: could not move the seeded times forward" >&2
  return 1
}

# REPS GETs of a path: prints "label<TAB>median server<TAB>worst server<TAB>median total<TAB>
# worst total<TAB>matching<TAB>checksum<TAB>bytes" to the results file and a line to stdout.
time_url() {
  local label=$1 path=$2
  if [ -n "$ONLY" ] && ! [[ $label =~ $ONLY ]]; then return 0; fi
  # A slow build takes minutes per sort: agents seen seconds ago would go offline mid-sort.
  if [ $(( $(date +%s%3N) - SEEDED_AT )) -gt 30000 ]; then shift_times; fi
  : >"$WORK/times"
  for _ in $(seq 1 "$REPS"); do
    curl -fsS -o "$WORK/body" -w '%{time_pretransfer} %{time_starttransfer} %{time_total}\n' \
      -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT$path" >>"$WORK/times"
  done
  local matching sum
  case $path in
    /api/v1/agents.csv*) matching=$(( $(wc -l <"$WORK/body") - 1 ))
      sum=$(cut -d, -f1 "$WORK/body" | md5sum | cut -c1-8) ;;
    /api/*) matching=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])' <"$WORK/body")
      sum=$(python3 -c 'import json,sys; print("\n".join(a["id"]+a["state"] for a in json.load(sys.stdin)["agents"]))' <"$WORK/body" | md5sum | cut -c1-8) ;;
    *) matching=$(sed -n 's/.*Agents [0-9]*–[0-9]* of \([0-9]*\).*/\1/p' "$WORK/body" | head -1)
      sum=$({ grep -o 'data-agent="[^"]*" data-state="[^"]*"' "$WORK/body" || true; } | md5sum | cut -c1-8) ;;
  esac
  local n sm sw tm tw
  n=$(wc -l <"$WORK/times")
  awk '{ printf "%.1f\n", ($2 - $1) * 1000 }' "$WORK/times" | sort -n >"$WORK/s"
  awk '{ printf "%.1f\n", $3 * 1000 }' "$WORK/times" | sort -n >"$WORK/t"
  sm=$(sed -n "$(( (n + 1) / 2 ))p" "$WORK/s"); sw=$(tail -1 "$WORK/s")
  tm=$(sed -n "$(( (n + 1) / 2 ))p" "$WORK/t"); tw=$(tail -1 "$WORK/t")
  printf "%-44s server %7s / %7s ms   total %7s / %7s ms   %6s match  %s  %d B\n" \
    "$label" "$sm" "$sw" "$tm" "$tw" "${matching:-?}" "$sum" "$(wc -c <"$WORK/body")"
  printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n" "$DB_KIND" "$label" "$sm" "$sw" "$tm" "$tw" \
    "${matching:-?}" "$sum" >>"$WORK/results"
}

FILTERS=(
  "none|"
  "q=ws-1234 (100)|q=ws-1234"
  "q=ws-1 (all)|q=ws-1"
  "q=nosuchhost (0)|q=nosuchhost"
  "state=not_ready|state=not_ready"
  "state=degraded|state=degraded"
  "state=ready|state=ready"
  "state=unknown|state=unknown"
  "state=idle|state=idle"
  "state=offline|state=offline"
  "state=signed_in|state=signed_in"
  "state=revoked|state=revoked"
  "state=reenroll|state=reenroll"
  "site=site-15|site=site-15"
  "site=site-15&state=not_ready|site=site-15&state=not_ready"
)
SORTS=("name|sort=name" "name desc|sort=name&desc=true" "state|sort=state"
  "state desc|sort=state&desc=true" "last_seen|sort=last_seen" "last_seen desc|sort=last_seen&desc=true")

run_one() {
  DB_KIND=$1
  DB_URL=$2
  echo
  echo "== $DB_KIND =="
  "$BIN" --database-url "$DB_URL" enroll-secret create --site main >/dev/null
  TOKEN=$("$BIN" --database-url "$DB_URL" token create --role viewer | tail -n 1)
  local t0=$SECONDS now
  now=$(( $(date +%s%3N) ))
  SEEDED_AT=$now
  case $DB_KIND in
    sqlite)
      DB_FILE=${DB_URL#sqlite://}
      NARROW=$(sqlite3 "$DB_FILE" "SELECT COUNT(*) FROM sqlite_master WHERE name = 'device_reports'")
      seed_sql "WITH RECURSIVE s(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM s WHERE k < $((AGENTS - 1))) SELECT k FROM s" \
        mod_sqlite "$now" | sed 's/mod_sqlite(\([^,]*\), \([^)]*\))/((\1) % (\2))/g' >"$WORK/seed.sql"
      sqlite3 "$DB_FILE" <"$WORK/seed.sql"
      sqlite3 "$DB_FILE" "ANALYZE"
      ;;
    postgres)
      NARROW=$(psql -Atq "$DB_URL" -c "SELECT COUNT(*) FROM pg_tables WHERE tablename = 'device_reports'")
      seed_sql "SELECT generate_series(0, $((AGENTS - 1))) AS k" mod "$now" >"$WORK/seed.sql"
      psql -q "$DB_URL" -v ON_ERROR_STOP=1 -f "$WORK/seed.sql"
      psql -q "$DB_URL" -c "VACUUM ANALYZE"
      ;;
  esac
  echo "seeded in $((SECONDS - t0)) s"
  "$BIN" --database-url "$DB_URL" serve --listen "127.0.0.1:$PORT" --probe-listen off \
    >"$WORK/hq.log" 2>&1 &
  HQ_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
  # One untimed request first (HQ's connections and the database's caches warm).
  curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  local s f sl sq fl fq last
  for s in "${SORTS[@]}"; do
    sl=${s%%|*}; sq=${s#*|}
    shift_times
    for f in "${FILTERS[@]}"; do
      fl=${f%%|*}; fq=${f#*|}
      time_url "page $sl, $fl" "/?$sq${fq:+&$fq}"
    done
    last=$(( (AGENTS + 49) / 50 ))
    time_url "page $sl, last page ($last)" "/?$sq&page=$last"
    time_url "api limit=50 $sl" "/api/v1/agents?$sq&limit=50"
    time_url "api limit=50 $sl, state=offline" "/api/v1/agents?$sq&limit=50&state=offline"
  done
  shift_times
  REPS=$(( REPS < 3 ? REPS : 3 )) time_url "export json, all agents" "/api/v1/agents"
  REPS=$(( REPS < 3 ? REPS : 3 )) time_url "export csv, all agents" "/api/v1/agents.csv"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "$HQ_PID"
  wait "$HQ_PID" 2>/dev/null || true
  HQ_PID=""
  if grep -qiE "panic|error" "$WORK/hq.log"; then echo "HQ log:"; grep -iE "panic|error" "$WORK/hq.log" | tail -5; fi
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
  run_one sqlite "sqlite://$WORK/hq.db"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  if ! pg_isready -q -h /var/run/postgresql; then
    echo "bench_fleet: PostgreSQL is not running (pg_ctlcluster 15 main start)" >&2
    exit 1
  fi
  PG_DB="bench_fleet_$$"
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" -c "CREATE DATABASE $PG_DB"
  run_one postgres "postgres:///$PG_DB?host=/var/run/postgresql&user=$(id -un)"
fi

echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| request | SQLite server median / worst | SQLite total median / worst | PostgreSQL server median / worst | PostgreSQL total median / worst | agents matching |"
echo "|---|---|---|---|---|---|"
awk -F'\t' '
  { key = $2; if (!(key in seen)) { seen[key] = 1; order[++n] = key }
    v[$1, key] = sprintf("%.1f / %.1f\t%.1f / %.1f", $3, $4, $5, $6); m[$1, key] = $7 }
  END {
    for (i = 1; i <= n; i++) {
      k = order[i]
      split((("sqlite", k) in v) ? v["sqlite", k] : "-\t-", a, "\t")
      split((("postgres", k) in v) ? v["postgres", k] : "-\t-", b, "\t")
      ms = (("sqlite", k) in m) ? m["sqlite", k] : m["postgres", k]
      if ((("sqlite", k) in m) && (("postgres", k) in m) && m["sqlite", k] != m["postgres", k])
        ms = m["sqlite", k] " / " m["postgres", k]
      printf "| %s | %s | %s | %s | %s | %s |\n", k, a[1], a[2], b[1], b[2], ms
    }
  }' "$WORK/results"
worst=$(sort -t$'\t' -k6 -n -r "$WORK/results" | grep -v "export" | head -1 | cut -f1,2,6)
echo
echo "worst page or API request (total, worst of $REPS): ${worst//$'\t'/ | } ms"
