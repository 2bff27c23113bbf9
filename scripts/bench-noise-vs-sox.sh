#!/usr/bin/env bash
# Times `shiftready noise --file` against `sox FILE -n stats` on the same 10-minute WAV
# (48 kHz mono 16-bit pink noise made by sox) and prints the ratio. Best of 3 runs each,
# file in the page cache. Needs sox. Usage: scripts/bench-noise-vs-sox.sh [SECONDS]
# (SHIFTREADY_BIN=path uses that release binary instead of building one).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-600}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
wav="$tmp/background.wav"
sox -n -r 48000 -c 1 -b 16 "$wav" synth "$seconds" pinknoise vol 0.05
if [ -n "${SHIFTREADY_BIN:-}" ]; then
    bin=$SHIFTREADY_BIN # an already built release binary
else
    cargo build --quiet --release --bin shiftready --manifest-path "$root/Cargo.toml"
    bin="${CARGO_TARGET_DIR:-$root/target}/release/shiftready"
fi
cat "$wav" >/dev/null

best() { # best wall time of 3 runs of "$@", in seconds
    local best=""
    for _ in 1 2 3; do
        local t0 t1
        t0=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || [ $? -le 3 ] # noise exits 0-3 with the check's status
        t1=$(date +%s.%N)
        best=$(echo "$t0 $t1 $best" | awk '{d=$2-$1; if ($3=="" || d<$3) print d; else print $3}')
    done
    echo "$best"
}

ours=$(best "$bin" noise --file "$wav" --json)
theirs=$(best sox "$wav" -n stats)
echo "file: ${seconds} s of 48 kHz mono 16-bit pink noise ($(du -h "$wav" | cut -f1))"
echo "shiftready noise --file: ${ours} s"
echo "sox FILE -n stats:       ${theirs} s"
echo "$ours $theirs" | awk '{printf "ratio shiftready/sox:    %.2f (%s)\n", $1/$2, ($1<$2 ? "shiftready faster" : "sox faster")}'
