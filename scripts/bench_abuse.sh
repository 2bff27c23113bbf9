#!/usr/bin/env bash
# HQ under abuse (issue 12): a heartbeat load with and without an attack, the figures of
# BENCHMARKS.md `## HQ under abuse`.
#
#   scripts/bench_abuse.sh
#
# One release HQ on a fresh SQLite database. Three phases of DURATION seconds each, the same
# heartbeat load in each (`shiftready-hq simulate`: AGENTS agents, one heartbeat every INTERVAL
# seconds, real HTTP with device keys), and /healthz timed with curl every 0.2 s:
#   1. quiet: the load alone;
#   2. abuse: at the same time 16 clients signing in with wrong passwords in a loop, 50 slow
#      clients (half-sent headers, reconnecting when HQ closes them), and FLOOD clients posting
#      bogus-key batches of ~64 KiB in a loop (bounded: each waits for its answer);
#   3. abuse without the login throttle (`--login-per-minute 100000`): every bad sign-in costs
#      an argon2 check, so only the bound on parallel checks protects HQ.
# Prints per phase: heartbeat p50/p99 (simulate's, after its warm-up), /healthz p50/p99/max and
# failures, and what the attackers got (status counts). Floor from the issue: heartbeat p99
# < 100 ms and /healthz answers throughout.
#
# Environment: AGENTS (3000), INTERVAL (30), DURATION (30), FLOOD (4), PORT (18710),
# CARGO_TARGET_DIR, HQ_BIN (a built shiftready-hq to use instead of building the release one).
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${AGENTS:-3000}
INTERVAL=${INTERVAL:-30}
DURATION=${DURATION:-30}
FLOOD=${FLOOD:-4}
PORT=${PORT:-18710}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if [ -n "${HQ_BIN:-}" ]; then
  BIN=$HQ_BIN
else
  cargo build --release -p shiftready-hq >&2
  BIN=$TARGET_DIR/release/shiftready-hq
fi
WORK=$(mktemp -d)
HQ_PID=""
ABUSE_PID=""
cleanup() {
  if [ -n "$ABUSE_PID" ]; then kill "$ABUSE_PID" 2>/dev/null || true; wait "$ABUSE_PID" 2>/dev/null || true; fi
  if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; wait "$HQ_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

DB="sqlite://$WORK/hq.db"
BASE="http://127.0.0.1:$PORT"
printf 'a long enough password\n' | "$BIN" --database-url "$DB" user add alice --role admin >/dev/null

# The attackers, in one Python process: bad sign-ins, slow clients, a bogus-key flood.
cat >"$WORK/abuse.py" <<'PY'
import collections, http.client, json, socket, sys, threading, time, urllib.parse
host, port, seconds, flood = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
end = time.time() + seconds
counts = collections.Counter()
lock = threading.Lock()
def note(k):
    with lock:
        counts[k] += 1
def bad_logins():
    body = urllib.parse.urlencode({"user": "alice", "password": "wrong guess"})
    while time.time() < end:
        try:
            c = http.client.HTTPConnection(host, port, timeout=30)
            c.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse(); r.read(); note(f"login {r.status}"); c.close()
            if r.status == 429:
                time.sleep(0.05)
        except Exception as e:
            note(f"login error {type(e).__name__}"); time.sleep(0.05)
def slow_client():
    while time.time() < end:
        try:
            s = socket.create_connection((host, port), timeout=60)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: hq\r\nUser-Agent: slow")
            note("slow connected")
            while time.time() < end:
                s.settimeout(max(0.1, end - time.time()))
                try:
                    if not s.recv(1024):
                        note("slow closed by HQ"); break
                except socket.timeout:
                    break
            s.close()
        except Exception as e:
            note(f"slow error {type(e).__name__}"); time.sleep(0.1)
def bogus_batches():
    ev = {"id": "00000000-0000-4000-8000-000000000000", "at": "2026-01-01T00:00:00Z",
          "sent_at": "2026-01-01T00:00:00Z", "kind": "incident", "name": "x" * 60, "detail": "y" * 200}
    body = json.dumps({"events": [ev] * 200}).encode()
    while time.time() < end:
        try:
            c = http.client.HTTPConnection(host, port, timeout=30)
            c.request("POST", "/api/v1/events", body, {"Content-Type": "application/json",
                      "Authorization": "Bearer sr_dev_bogusbogusbogusbogusbogusbogusbogusbogus"})
            r = c.getresponse(); r.read(); note(f"bogus {r.status}"); c.close()
        except Exception as e:
            note(f"bogus error {type(e).__name__}"); time.sleep(0.05)
threads = [threading.Thread(target=bad_logins) for _ in range(16)]
threads += [threading.Thread(target=slow_client) for _ in range(50)]
threads += [threading.Thread(target=bogus_batches) for _ in range(flood)]
for t in threads: t.daemon = True; t.start()
for t in threads: t.join(timeout=max(0, end - time.time()) + 35)
print("attackers got: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), flush=True)
PY

# /healthz every 0.2 s for $1 seconds; prints p50/p99/max in ms and the failures.
healthz_probe() {
  local until=$(( $(date +%s) + $1 )) out="$WORK/healthz.txt"
  : >"$out"
  while [ "$(date +%s)" -lt "$until" ]; do
    curl -s -o /dev/null -m 30 -w '%{http_code} %{time_total}\n' "$BASE/healthz" >>"$out" || echo "000 30" >>"$out"
    sleep 0.2
  done
  sort -k2 -g "$out" | awk '{ n++; t[n] = $2 * 1000; if ($1 != 200) bad++ }
    END { printf "healthz: %d probes, p50 %.1f ms, p99 %.1f ms, max %.1f ms, failed %d\n",
      n, t[int((n - 1) * 0.5) + 1], t[int((n - 1) * 0.99) + 1], t[n], bad + 0 }'
}

start_hq() {
  "$BIN" --database-url "$DB" serve --listen "127.0.0.1:$PORT" --probe-listen off "$@" \
    >"$WORK/hq.log" 2>&1 &
  HQ_PID=$!
  for _ in $(seq 1 100); do
    curl -fsS "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "HQ did not start:"; cat "$WORK/hq.log"; exit 1
}

stop_hq() {
  kill "$HQ_PID"; wait "$HQ_PID" 2>/dev/null || true; HQ_PID=""
}

phase() {
  local label=$1 abuse=$2
  echo
  echo "== $label =="
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  local rss0
  rss0=$(awk '/VmRSS/ { print $2 }' "/proc/$HQ_PID/status")
  if [ "$abuse" = yes ]; then
    # The attack starts 2 s before the load and outlasts it.
    python3 "$WORK/abuse.py" 127.0.0.1 "$PORT" $((DURATION + 8)) "$FLOOD" >"$WORK/abuse.txt" 2>&1 &
    ABUSE_PID=$!
    sleep 2
  fi
  healthz_probe "$DURATION" >"$WORK/healthz_summary.txt" &
  local probe=$!
  "$BIN" --database-url "$DB" simulate --agents "$AGENTS" --interval "$INTERVAL" \
    --duration "$DURATION" --bare-seconds 0.5 --concurrency 64 --site "bench-$label" \
    --target "$BASE" 2>&1 | grep -E "simulate: (sent|after)" || true
  wait "$probe" || true
  cat "$WORK/healthz_summary.txt"
  if [ -n "$ABUSE_PID" ]; then
    wait "$ABUSE_PID" || true
    ABUSE_PID=""
    cat "$WORK/abuse.txt"
  fi
  echo "HQ RSS: $((rss0 / 1024)) MiB before, $(( $(awk '/VmRSS/ { print $2 }' "/proc/$HQ_PID/status") / 1024 )) MiB after"
  echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

echo "machine: nproc=$(nproc), $(lscpu | sed -n 's/^Model name: *//p')"
echo "run: agents=$AGENTS interval=${INTERVAL}s ($((AGENTS / INTERVAL)) heartbeats/s) duration=${DURATION}s per phase, flood=$FLOOD"
start_hq
phase quiet no
phase abuse yes
stop_hq
start_hq --login-per-minute 100000
phase abuse-no-throttle yes
stop_hq
