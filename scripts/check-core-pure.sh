#!/usr/bin/env bash
# Proves that shiftready-core stays pure (issue 11): its normal (non-dev) dependency tree holds
# none of the I/O crates, and it builds on its own. Exits 1 listing any forbidden crate found.
set -euo pipefail
cd "$(dirname "$0")/.."

FORBIDDEN=(tokio cpal sqlx reqwest gtk zbus sysinfo hyper axum)

tree=$(cargo tree -p shiftready-core -e normal --prefix none --format '{p}')
found=()
for crate in "${FORBIDDEN[@]}"; do
    # a package line starts with its name, then " v<version>"
    if grep -qE "^${crate} v" <<<"$tree"; then
        found+=("$crate")
    fi
done
if ((${#found[@]})); then
    echo "check-core-pure: shiftready-core depends on I/O crates: ${found[*]}" >&2
    for crate in "${found[@]}"; do
        echo "--- how ${crate} gets in:" >&2
        cargo tree -p shiftready-core -e normal -i "$crate" >&2 || true
    done
    exit 1
fi
echo "check-core-pure: no forbidden crate among $(sort -u <<<"$tree" | wc -l) normal dependencies (checked: ${FORBIDDEN[*]})"

# Built alone, so no feature or crate of the rest of the workspace can make it compile.
cargo build -p shiftready-core
echo "check-core-pure: shiftready-core builds alone"
