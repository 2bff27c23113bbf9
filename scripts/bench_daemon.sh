#!/usr/bin/env bash
# Resident memory and CPU of the daemon during in-shift monitoring, next to Debian's
# prometheus-node-exporter idling in the same run, on the same machine.
#
#   bash scripts/bench_daemon.sh [SECONDS] [VARIANTS]
#
# SECONDS: the measured window (default 600: ten minutes).
# VARIANTS: a comma list (default `headless,tray`), each one daemon measured side by side:
#   headless       the headless build (`--no-default-features`), `run --headless`
#   tray           the default build (tray icon) running `run` with its icon under Xvfb, with
#                  trayer as the tray host
#   tray-base      as tray, with the binary BENCH_TRAY_BASE_BIN (an older build, side by side)
#   tray-headless  the default build running `run --headless`
#   no-headset, no-probe, no-noise, quiet
#                  the headless build with one monitor (or all three: quiet) pushed out to a
#                  day, to isolate what each costs
#   recheck-300    the headless build with the headset's safety-net recheck every 300 s
#
# Each daemon has its own real HQ (`shiftready-hq serve` on loopback, debug build, not
# measured), is enrolled there, and has a local shift covering the whole run with readiness bar
# `any`, so it is signed in throughout: real checks at the shift start, then heartbeats every
# 30 s delivered to HQ, the headset watched, a light network probe to HQ's reflector every 60 s,
# the noise every 300 s (the shipped defaults).
# CPU is utime+stime (children included) from /proc over the window; RSS and PSS (Pss of
# /proc/PID/smaps_rollup: each shared page divided among the processes mapping it) are sampled
# every 5 s; USS (Private_Clean + Private_Dirty: what ending the process would free) and the
# anonymous part come from smaps_rollup at the end. Prints a Markdown section for BENCHMARKS.md
# on stdout; logs go to target/bench-daemon-*.log, and where each process's memory is at the
# end (/proc/PID/smaps summed per mapped file, largest PSS first, in KiB) to
# target/bench-daemon-*.smaps.
# BENCH_HEADLESS_BIN / BENCH_TRAY_BIN: use these prebuilt agent binaries instead of building
# (to compare builds); BENCH_HQ_BIN likewise for the HQ. BENCH_TRAY_ENV: extra environment
# (`NAME=value ...`) for the `tray` variant's daemon only, to try a setting without a build
# (against `tray-base` with the same binary).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-600}
VARIANTS=${2:-headless,tray}
TARGET=${CARGO_TARGET_DIR:-target}
if ! command -v prometheus-node-exporter >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends prometheus-node-exporter >&2
fi

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.5
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/bin"

need() { [[ ",$VARIANTS," == *",$1,"* ]]; }
if need tray || need tray-headless; then
  if [ -n "${BENCH_TRAY_BIN:-}" ]; then cp "$BENCH_TRAY_BIN" "$WORK/bin/shiftready-tray"; else
    cargo build -q --release --bin shiftready -p shiftready >&2
    cp "$TARGET/release/shiftready" "$WORK/bin/shiftready-tray"
  fi
fi
if need tray-base; then cp "${BENCH_TRAY_BASE_BIN:?tray-base needs BENCH_TRAY_BASE_BIN}" "$WORK/bin/shiftready-tray-base"; fi
for v in headless no-headset no-probe no-noise quiet; do
  if need $v; then
    if [ -n "${BENCH_HEADLESS_BIN:-}" ]; then cp "$BENCH_HEADLESS_BIN" "$WORK/bin/shiftready-headless"; else
      cargo build -q --release --no-default-features --bin shiftready -p shiftready >&2
      cp "$TARGET/release/shiftready" "$WORK/bin/shiftready-headless"
    fi
    break
  fi
done
# HQ is not measured: its debug build is enough.
if [ -n "${BENCH_HQ_BIN:-}" ]; then HQ=$BENCH_HQ_BIN; else
  cargo build -q --bin shiftready-hq -p shiftready-hq >&2
  HQ=$TARGET/debug/shiftready-hq
fi

cat >"$WORK/policy.toml" <<EOF
[shift]
readiness_bar = "any"
EOF
start=$(date -u -d '-1 minute' +%H:%M:%S)
end=$(date -u -d "+$((DUR + 600)) seconds" +%H:%M:%S)
day=$(date -u -d '-1 minute' +%a | tr '[:upper:]' '[:lower:]')

# start_agent LABEL BINARY DAEMON_TOML_LINES RUN_ARGS...: its own HQ, enrolled, then the daemon.
declare -A AGENT_PID AGENT_BIN AGENT_CFG
start_agent() {
  local label=$1 bin=$2 extra=$3; shift 3
  local d="$WORK/$label"; mkdir -p "$d"
  export SHIFTREADY_HQ_DATABASE_URL="sqlite://$d/hq.db"
  local secret; secret=$("$HQ" enroll-secret create --site main | tail -n1)
  "$HQ" serve --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 >"$d/hq.out" 2>"$d/hq.err" &
  PIDS+=($!)
  for _ in $(seq 100); do grep -q "listening on" "$d/hq.out" && break; sleep 0.2; done
  local url refl
  url=$(sed -n 's/^shiftready-hq: listening on //p' "$d/hq.out" | head -n1)
  refl=$(sed -n 's|^shiftready-hq: reflector on udp://||p' "$d/hq.out" | head -n1)
  "$HQ" policy set --site main "$WORK/policy.toml" >&2
  cp "$WORK/policy.toml" "$d/policy.toml"
  cat >"$d/agent.toml" <<EOF
[agent]
state_dir = "state"
policy_file = "policy.toml"
[hq]
reflector = "$refl"
[daemon]
notifications = false
$extra
[[schedule.shift]]
days = ["$day"]
start = "$start"
end = "$end"
timezone = "UTC"
EOF
  "$bin" --config "$d/agent.toml" enroll --hq "$url" --token "$secret" >&2
  # shellcheck disable=SC2086
  SHIFTREADY_LOG=shiftready=info env ${AGENT_ENV:-} "$bin" --config "$d/agent.toml" "$@" 2>"$d/agent.log" &
  AGENT_PID[$label]=$!; AGENT_BIN[$label]=$bin; AGENT_CFG[$label]="$d/agent.toml"
  PIDS+=($!)
}

ORDER=()
IFS=, read -r -a VLIST <<<"$VARIANTS"
for v in "${VLIST[@]}"; do
  H="$WORK/bin/shiftready-headless"
  case $v in
    headless) start_agent "$v" "$H" "" run --headless ;;
    no-headset) start_agent "$v" "$H" "headset_poll_seconds = 86400
headset_recheck_seconds = 86400" run --headless ;;
    recheck-300) start_agent "$v" "$H" "headset_recheck_seconds = 300" run --headless ;;
    no-probe) start_agent "$v" "$H" "probe_interval_seconds = 86400" run --headless ;;
    no-noise) start_agent "$v" "$H" "noise_interval_seconds = 0" run --headless ;;
    quiet) start_agent "$v" "$H" "headset_poll_seconds = 86400
headset_recheck_seconds = 86400
probe_interval_seconds = 86400
noise_interval_seconds = 0" run --headless ;;
    tray-headless) start_agent "$v" "$WORK/bin/shiftready-tray" "" run --headless ;;
    tray | tray-base)
      n=$((90 + RANDOM % 100))
      while [ -e "/tmp/.X11-unix/X$n" ] || [ -e "/tmp/.X$n-lock" ]; do n=$((n + 1)); done
      Xvfb ":$n" -screen 0 400x100x24 -nolisten tcp >/dev/null 2>&1 &
      PIDS+=($!)
      for _ in $(seq 50); do [ -e "/tmp/.X11-unix/X$n" ] && break; sleep 0.2; done
      DISPLAY=":$n" trayer --edge top --align left --widthtype request --height 32 \
        --heighttype pixel >/dev/null 2>&1 &
      PIDS+=($!)
      sleep 1
      b="$WORK/bin/shiftready-tray"; [ "$v" = tray-base ] && b="$WORK/bin/shiftready-tray-base"
      e=""; [ "$v" = tray ] && e=${BENCH_TRAY_ENV:-}
      DISPLAY=":$n" DBUS_SESSION_BUS_ADDRESS='' AGENT_ENV="$e" start_agent "$v" "$b" "" run
      ;;
    *) echo "unknown variant $v" >&2; exit 64 ;;
  esac
  ORDER+=("$v")
done
# shellcheck disable=SC2034
unset SHIFTREADY_HQ_DATABASE_URL

prometheus-node-exporter --web.listen-address=127.0.0.1:0 >"$WORK/ne.log" 2>&1 &
NE=$!; PIDS+=("$NE")

# Let every daemon sign in (its first full check at shift start) and settle, then measure.
for v in "${ORDER[@]}"; do
  ok=""
  for _ in $(seq 200); do
    if "${AGENT_BIN[$v]}" --config "${AGENT_CFG[$v]}" status --json 2>/dev/null \
        | grep -q '"signed_in": true'; then ok=1; break; fi
    sleep 0.3
  done
  [ -n "$ok" ] || { echo "$v did not sign in:" >&2; cat "$WORK/$v/agent.log" >&2; exit 1; }
done
sleep 20

TCK=$(getconf CLK_TCK)
cpu() { awk '{print $14+$15+$16+$17}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
anon() { awk '/^Anonymous/ {print $2}' "/proc/$1/smaps_rollup"; }
pss() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
uss() { awk '/^Private_(Clean|Dirty)/ {s+=$2} END {print s}' "/proc/$1/smaps_rollup"; }
# per_mapping PID: RSS, PSS and USS (KiB) summed per mapped file ([anon] for the rest).
per_mapping() {
  awk '/^[0-9a-f]+-[0-9a-f]+ / {m = (NF >= 6) ? $6 : "[anon]"}
       /^Rss:/ {r[m] += $2} /^Pss:/ {p[m] += $2} /^Private_(Clean|Dirty):/ {u[m] += $2}
       END {for (k in r) if (r[k] > 0) printf "%8d %8d %8d  %s\n", r[k], p[k], u[k], k}' \
    "/proc/$1/smaps" | sort -k2,2nr | { echo "     RSS      PSS      USS  mapping (KiB)"; cat; }
}
ALL=("${ORDER[@]}" node-exporter)
declare -A PID C0 C1 RSS PSSS
for v in "${ORDER[@]}"; do PID[$v]=${AGENT_PID[$v]}; done
PID[node-exporter]=$NE
load0=$(cut -d' ' -f1-3 /proc/loadavg)
for v in "${ALL[@]}"; do C0[$v]=$(cpu "${PID[$v]}"); RSS[$v]=""; PSSS[$v]=""; done
t0=$(date +%s.%N)
LOADS=()
while :; do
  for v in "${ALL[@]}"; do
    RSS[$v]+="$(rss "${PID[$v]}") "; PSSS[$v]+="$(pss "${PID[$v]}") "
  done
  LOADS+=("$(cut -d' ' -f1 /proc/loadavg)")
  now=$(date +%s.%N)
  awk -v a="$now" -v b="$t0" -v d="$DUR" 'BEGIN{exit !(a-b < d)}' || break
  sleep 5
done
for v in "${ALL[@]}"; do C1[$v]=$(cpu "${PID[$v]}"); done
t1=$(date +%s.%N)
load1=$(cut -d' ' -f1-3 /proc/loadavg)
for v in "${ORDER[@]}"; do
  kill -0 "${PID[$v]}" || { echo "$v died:" >&2; cat "$WORK/$v/agent.log" >&2; exit 1; }
  cp "$WORK/$v/agent.log" "$TARGET/bench-daemon-$v.log"
done
declare -A ANON USS
for v in "${ALL[@]}"; do
  ANON[$v]=$(anon "${PID[$v]}"); USS[$v]=$(uss "${PID[$v]}")
  per_mapping "${PID[$v]}" >"$TARGET/bench-daemon-$v.smaps"
done
STATUS=$("${AGENT_BIN[${ORDER[0]}]}" --config "${AGENT_CFG[${ORDER[0]}]}" status --json)

stats() { awk '{for(i=1;i<=NF;i++){s+=$i; n++; if($i>m)m=$i}} END{printf "%.1f %.1f\n", s/n/1024, m/1024}'; }
secs=$(awk -v s="$t0" -v e="$t1" 'BEGIN{printf "%.0f", e-s}')
load_mean=$(printf '%s\n' "${LOADS[@]}" | awk '{s+=$1} END{printf "%.2f", s/NR}')
declare -A MEAN MAX PMEAN PMAX PCT
for v in "${ALL[@]}"; do
  read -r MEAN[$v] MAX[$v] < <(echo "${RSS[$v]}" | stats)
  read -r PMEAN[$v] PMAX[$v] < <(echo "${PSSS[$v]}" | stats)
  PCT[$v]=$(awk -v d=$((C1[$v] - C0[$v])) -v t="$TCK" -v s="$t0" -v e="$t1" \
    'BEGIN{printf "%.3f", d/t/(e-s)*100}')
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b>0) printf "%.2f", a/b; else print "n/a" }'; }
describe() {
  case $1 in
    headless) echo "shiftready run --headless (headless build)" ;;
    tray) echo "shiftready run (tray build, icon under Xvfb + trayer)" ;;
    tray-base) echo "shiftready run (BENCH_TRAY_BASE_BIN, icon under Xvfb + trayer)" ;;
    tray-headless) echo "shiftready run --headless (tray build)" ;;
    no-headset) echo "headless, headset watch off" ;;
    no-probe) echo "headless, network probe off" ;;
    no-noise) echo "headless, noise sampling off" ;;
    quiet) echo "headless, headset + probe + noise off (heartbeats only)" ;;
    recheck-300) echo "headless, headset safety-net recheck every 300 s" ;;
    node-exporter) echo "prometheus-node-exporter (idle)" ;;
  esac
}

echo "- Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(uname -r)"
echo "- Command: \`bash scripts/bench_daemon.sh $DUR $VARIANTS\` ($secs s measured after the sign-in"
echo "  and 20 s of settling; RSS and PSS sampled every 5 s; CPU = utime+stime incl. children"
echo "  from /proc over the whole window; USS = \`Private_Clean\` + \`Private_Dirty\`, anonymous ="
echo "  \`Anonymous\`, both of /proc/PID/smaps_rollup at the end; MB = MiB)"
echo "- Load average (shared machine, others compiling): $load0 at the start, $load1 at the end,"
echo "  1-min mean over the window $load_mean"
echo "- node-exporter: $(prometheus-node-exporter --version 2>&1 | head -n1 | awk '{print $3}')"
echo "- Status of \`${ORDER[0]}\` at the end: \`$(echo "$STATUS" | tr -d '\n ' | cut -c1-120)…\`"
echo
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
echo "| process | RSS mean (MB) | RSS max (MB) | PSS mean (MB) | PSS max (MB) | USS (MB) | anonymous (MB) | CPU (% of one core) |"
echo "|---|---|---|---|---|---|---|---|"
for v in "${ALL[@]}"; do
  echo "| $(describe "$v") | ${MEAN[$v]} | ${MAX[$v]} | ${PMEAN[$v]} | ${PMAX[$v]} | $(mb "${USS[$v]}") | $(mb "${ANON[$v]}") | ${PCT[$v]} |"
done
for v in "${ORDER[@]}"; do
  echo "| ratio $v / node-exporter | $(ratio "${MEAN[$v]}" "${MEAN[node-exporter]}") | $(ratio "${MAX[$v]}" "${MAX[node-exporter]}") | $(ratio "${PMEAN[$v]}" "${PMEAN[node-exporter]}") | $(ratio "${PMAX[$v]}" "${PMAX[node-exporter]}") | $(ratio "${USS[$v]}" "${USS[node-exporter]}") | | $(ratio "${PCT[$v]}" "${PCT[node-exporter]}") |"
done
