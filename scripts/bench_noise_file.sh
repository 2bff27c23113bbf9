#!/usr/bin/env bash
# `shiftready noise --file F --json` against `sox F -n stats` on the same WAV files, in one run
# (issue 17 part 1): a 10-minute and a one-hour 48 kHz mono 16-bit file made by sox (pink
# noise), each command run N times alternating with the other, files in the page cache.
# Prints per file the median wall time of each, the ratio (sox / shiftready: above 1 means
# shiftready is faster) and the peak RSS of each (`/usr/bin/time -f %M`, max over the runs).
#
# Usage: scripts/bench_noise_file.sh [RUNS]          (default 7)
#   SHIFTREADY_BIN=path   use that release binary instead of building one
#   OLD_BIN=path          also time an older build (e.g. one copied aside before a change)
#   BENCH_SECONDS="600 3600"  the file lengths
# Needs sox and GNU time (/usr/bin/time).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-7}
lengths=${BENCH_SECONDS:-600 3600}
for tool in sox /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench_noise_file: $tool is needed" >&2; exit 1; }
done
if [ -n "${SHIFTREADY_BIN:-}" ]; then
    bin=$SHIFTREADY_BIN
else
    cargo build --quiet --release --bin shiftready --manifest-path "$root/Cargo.toml"
    bin="${CARGO_TARGET_DIR:-$root/target}/release/shiftready"
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# A home of its own: no config or state of the machine's user is read.
export HOME="$tmp/home" XDG_DATA_HOME="$tmp/home/data" XDG_CONFIG_HOME="$tmp/home/config"
mkdir -p "$HOME"

# One run of "$@": prints "WALL_MICROSECONDS PEAK_RSS_KB". `noise` exits 0-3 with the check's
# status; anything else is a failure. The wall time is taken around /usr/bin/time (whose own
# %e has only 10 ms resolution), so it includes one extra fork+exec for every command alike.
timed() {
    local t0 t1 rc=0
    t0=$(date +%s%N)
    /usr/bin/time -o "$tmp/time.txt" -f '%M' "$@" >/dev/null 2>"$tmp/stderr" || rc=$?
    t1=$(date +%s%N)
    if [ "$rc" -gt 3 ]; then
        echo "bench_noise_file: '$*' failed ($rc):" >&2
        cat "$tmp/stderr" >&2
        exit 1
    fi
    echo "$(((t1 - t0) / 1000)) $(tail -n 1 "$tmp/time.txt")"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
max() { sort -n | tail -n 1; }

echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "shiftready: $bin"
[ -n "${OLD_BIN:-}" ] && echo "old build:  $OLD_BIN"
echo "runs per command: $runs (alternating), wall time includes /usr/bin/time's fork+exec"
for seconds in $lengths; do
    wav="$tmp/pink-$seconds.wav"
    sox -n -r 48000 -c 1 -b 16 "$wav" synth "$seconds" pinknoise vol 0.05
    cat "$wav" >/dev/null
    : >"$tmp/ours" ; : >"$tmp/sox" ; : >"$tmp/old"
    # One unrecorded warm-up of each.
    timed "$bin" noise --file "$wav" --json >/dev/null
    timed sox "$wav" -n stats >/dev/null
    for _ in $(seq "$runs"); do
        timed "$bin" noise --file "$wav" --json >>"$tmp/ours"
        timed sox "$wav" -n stats >>"$tmp/sox"
        if [ -n "${OLD_BIN:-}" ]; then
            timed "$OLD_BIN" noise --file "$wav" --json >>"$tmp/old"
        fi
    done
    ours=$(awk '{print $1}' "$tmp/ours" | median)
    theirs=$(awk '{print $1}' "$tmp/sox" | median)
    ours_rss=$(awk '{print $2}' "$tmp/ours" | max)
    sox_rss=$(awk '{print $2}' "$tmp/sox" | max)
    echo
    echo "file: $seconds s of 48 kHz mono 16-bit pink noise ($(du -h "$wav" | cut -f1))"
    printf '  %-32s median %8.3f s   peak RSS %7.1f MB\n' "shiftready noise --file --json" \
        "$(echo "$ours" | awk '{print $1/1e6}')" "$(echo "$ours_rss" | awk '{print $1/1024}')"
    printf '  %-32s median %8.3f s   peak RSS %7.1f MB\n' "sox FILE -n stats" \
        "$(echo "$theirs" | awk '{print $1/1e6}')" "$(echo "$sox_rss" | awk '{print $1/1024}')"
    if [ -n "${OLD_BIN:-}" ]; then
        old=$(awk '{print $1}' "$tmp/old" | median)
        old_rss=$(awk '{print $2}' "$tmp/old" | max)
        printf '  %-32s median %8.3f s   peak RSS %7.1f MB\n' "old build noise --file --json" \
            "$(echo "$old" | awk '{print $1/1e6}')" "$(echo "$old_rss" | awk '{print $1/1024}')"
    fi
    echo "$ours $theirs" | awk '{printf "  ratio sox/shiftready: %.2f (%s)\n", $2/$1, ($1<$2 ? "shiftready faster" : "sox faster")}'
    echo "  all runs (µs, KB): shiftready $(awk '{printf "%s/%s ", $1, $2}' "$tmp/ours")"
    echo "                     sox        $(awk '{printf "%s/%s ", $1, $2}' "$tmp/sox")"
    rm -f "$wav"
done
echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
