# Shared by the installer build scripts (bash): where things are and what version we build.
# shellcheck shell=bash

INSTALLER_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INSTALLER_DIR/.." && pwd)
# Cargo's target dir (honours CARGO_TARGET_DIR) and where the installers land.
# shellcheck disable=SC2034 # used by the scripts that source this file
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
# shellcheck disable=SC2034
OUT_DIR=${SHIFTREADY_INSTALLERS_DIR:-$REPO_ROOT/target/installers}

# The agent's version, from [workspace.package] in Cargo.toml (what `shiftready --version` says).
cargo_version() {
    sed -n '/^\[workspace\.package\]/,/^\[/ s/^version *= *"\([^"]*\)".*/\1/p' \
        "$REPO_ROOT/Cargo.toml" | head -n 1
}

# The directory cargo puts a profile's output in: dev builds go to debug/.
profile_dir() {
    case "$1" in
        dev | test) echo debug ;;
        *) echo "$1" ;;
    esac
}

log() { printf '==> %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}
