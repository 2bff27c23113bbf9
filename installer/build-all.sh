#!/usr/bin/env bash
# Builds every installer that can be built on Debian into target/installers/:
#   shiftready_VERSION-1_ARCH.deb        (installer/linux/build-deb.sh)
#   shiftready-VERSION-x86_64.msi        (installer/windows/build-msi.sh, cross-built)
# The macOS package needs a Mac: installer/macos/build-pkg.sh --binary PATH.
#
# Usage: installer/build-all.sh [--profile release|dev]
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

profile=release
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=${2:?}; shift 2 ;;
        -h | --help) sed -n '2,7p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

built=()
built+=("$("$INSTALLER_DIR/linux/build-deb.sh" --profile "$profile" | tail -n 1)")
built+=("$("$INSTALLER_DIR/windows/build-msi.sh" --profile "$profile" | tail -n 1)")
log "macOS: build on a Mac with installer/macos/build-pkg.sh --binary PATH"
log "built:"
printf '  %s\n' "${built[@]}"
