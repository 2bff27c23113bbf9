#!/usr/bin/env bash
# Cross-builds the agent for x86_64-pc-windows-gnu with Debian's mingw-w64 and packs it into a
# per-user MSI with wixl (msitools). Output: target/installers/shiftready-VERSION-x86_64.msi
#
# Usage: installer/windows/build-msi.sh [--profile release|dev] [--exe PATH] [--version X.Y.Z] [--lang en|sv]
#   --exe      use an already built shiftready.exe instead of building one
#   --version  the MSI's ProductVersion (default: the workspace version); MSI compares only
#              the first three numbers, so an upgrade must raise one of them
#   --lang     the language of the installer's own words (strings-LANG.wxi; default en); a
#              language other than English is named in the file: shiftready-VERSION-x86_64-sv.msi
# Needs: rustup target x86_64-pc-windows-gnu, gcc-mingw-w64-x86-64, wixl.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

profile=release
exe=
version=$(cargo_version)
lang=en
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=${2:?}; shift 2 ;;
        --exe) exe=${2:?}; shift 2 ;;
        --version) version=${2:?}; shift 2 ;;
        --lang) lang=${2:?}; shift 2 ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
# MSI ProductVersion: numbers only, major.minor.build.
msi_version=${version%%[-+]*}
[[ $msi_version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "'$version' is not an MSI version (X.Y.Z)"

target=x86_64-pc-windows-gnu
if [ -z "$exe" ]; then
    command -v x86_64-w64-mingw32-gcc >/dev/null ||
        die "x86_64-w64-mingw32-gcc not found: apt-get install gcc-mingw-w64-x86-64"
    rustup target list --installed 2>/dev/null | grep -qx "$target" ||
        die "Rust target $target missing: rustup target add $target"
    log "cross-building shiftready.exe ($profile)"
    (cd "$REPO_ROOT" &&
        CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc \
            cargo build --profile "$profile" --target "$target" -p shiftready --bin shiftready)
    exe=$TARGET_DIR/$target/$(profile_dir "$profile")/shiftready.exe
fi
[ -f "$exe" ] || die "no such file: $exe"
command -v wixl >/dev/null || die "wixl not found: apt-get install wixl (msitools)"

# wixl looks files up relative to where it runs, so stage everything the MSI holds together.
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
x86_64-w64-mingw32-strip -o "$stage/shiftready.exe" "$exe" 2>/dev/null || cp "$exe" "$stage/shiftready.exe"
cp "$REPO_ROOT/config/agent.toml" "$REPO_ROOT/config/policy.toml" "$INSTALLER_DIR/icons/shiftready.ico" "$stage/"

mkdir -p "$OUT_DIR"
[ -f "$INSTALLER_DIR/windows/strings-$lang.wxi" ] || die "no installer texts for '$lang' (installer/windows/strings-$lang.wxi)"
suffix=
[ "$lang" = en ] || suffix=-$lang
msi=$OUT_DIR/shiftready-$msi_version-x86_64$suffix.msi
log "building $msi"
(cd "$stage" && wixl --arch x64 -D Version="$msi_version" -D Lang="$lang" -I "$INSTALLER_DIR/windows" -o "$msi" "$INSTALLER_DIR/windows/shiftready.wxs")
echo "$msi"
