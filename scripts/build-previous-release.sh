#!/usr/bin/env bash
# Builds the previous release (the last one that landed) for the version-skew tests
# (tests/version_skew.rs): its agent and its HQ, from a clean copy of that commit, in a target
# directory of its own (nothing of the current build is reused).
#
#   scripts/build-previous-release.sh [COMMIT]     (default: 4451ef2)
#
# Leaves target/previous/bin/shiftready and target/previous/bin/shiftready-hq; then
#   SHIFTREADY_PREVIOUS_BIN_DIR=$PWD/target/previous/bin cargo test -p shiftready \
#       --features test-hooks --test version_skew
# The previous release compiled its test hooks always (no feature then).
set -euo pipefail
commit="${1:-4451ef2}"
root="$(cd "$(dirname "$0")/.." && pwd)"
prev="$root/target/previous"
src="$prev/src"
stamp="$prev/bin/.commit"
full="$(git -C "$root" rev-parse --verify "$commit^{commit}")"

if [[ -x "$prev/bin/shiftready" && -x "$prev/bin/shiftready-hq" && -f "$stamp" \
      && "$(cat "$stamp")" == "$full" ]]; then
    echo "previous release $full already built in $prev/bin"
    exit 0
fi

# A clean copy of the commit's files (git archive: no worktree bookkeeping to clean up).
rm -rf "$src"
mkdir -p "$src" "$prev/bin"
git -C "$root" archive --format=tar "$full" | tar -x -C "$src"

# shellcheck disable=SC1091
. "${CARGO_HOME:-$HOME/.cargo}/env" 2>/dev/null || true
locked=()
[[ -f "$src/Cargo.lock" ]] && locked=(--locked)
(
    cd "$src"
    CARGO_TARGET_DIR="$prev/target" cargo build "${locked[@]}" -p shiftready -p shiftready-hq --bins
)
install -m 0755 "$prev/target/debug/shiftready" "$prev/bin/shiftready"
install -m 0755 "$prev/target/debug/shiftready-hq" "$prev/bin/shiftready-hq"
echo "$full" > "$stamp"
echo "previous release $full: $prev/bin/shiftready, $prev/bin/shiftready-hq"
