#!/usr/bin/env bash
# Builds the macOS installer package (run on a Mac with Xcode's command line tools):
# ShiftReady.app with the agent, the LaunchAgent, preinstall/postinstall, as
# target/installers/ShiftReady-VERSION.pkg.
#
# Usage: installer/macos/build-pkg.sh --binary PATH [--version X.Y.Z] [--sign IDENTITY]
#        installer/macos/build-pkg.sh --binary PATH --stage-only DIR
#   --binary      the agent built for macOS (e.g. lipo'd from aarch64- and x86_64-apple-darwin)
#   --sign        a "Developer ID Installer: ..." identity for productbuild
#   --stage-only  only lay out the payload in DIR (works anywhere; the tests use it on Linux)
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

binary=
version=$(cargo_version)
sign=
stage_only=
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary=${2:?}; shift 2 ;;
        --version) version=${2:?}; shift 2 ;;
        --sign) sign=${2:?}; shift 2 ;;
        --stage-only) stage_only=${2:?}; shift 2 ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[ -n "$binary" ] || die "--binary PATH is required (see --help)"
[ -f "$binary" ] || die "no such file: $binary"

here=$INSTALLER_DIR/macos
plist=$here/com.shiftready.agent.plist
# The installed binary is where the LaunchAgent says it is: the first ProgramArguments string.
program=$(awk '/<key>ProgramArguments<\/key>/ {p = 1; next}
               p && /<string>/ {sub(/.*<string>/, ""); sub(/<\/string>.*/, ""); print; exit}' "$plist")
case "$program" in
    /Applications/*.app/Contents/MacOS/*) ;;
    *) die "LaunchAgent program '$program' is not inside an app bundle in /Applications" ;;
esac
app=${program%/Contents/MacOS/*}

if [ -n "$stage_only" ]; then
    root=$stage_only
    mkdir -p "$root"
else
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    root=$work/root
fi

log "staging $app"
contents=$root$app/Contents
install -d -m 0755 "$contents/MacOS" "$contents/Resources" "$root/Library/LaunchAgents"
install -m 0755 "$binary" "$root$program"
sed "s|@VERSION@|$version|g" "$here/Info.plist.in" >"$contents/Info.plist"
sed 's|^policy_file = ""|policy_file = "/Library/Application Support/ShiftReady/policy.toml"|' \
    "$REPO_ROOT/config/agent.toml" >"$contents/Resources/agent.toml"
install -m 0644 "$REPO_ROOT/config/policy.toml" "$contents/Resources/policy.toml"
install -m 0755 "$here/uninstall.sh" "$contents/Resources/uninstall.sh"
install -m 0644 "$plist" "$root/Library/LaunchAgents/com.shiftready.agent.plist"
if command -v iconutil >/dev/null && command -v sips >/dev/null; then
    iconset=$(mktemp -d)/shiftready.iconset
    mkdir -p "$iconset"
    for s in 16 32 128 256; do
        sips -z "$s" "$s" "$INSTALLER_DIR/icons/shiftready-256.png" --out "$iconset/icon_${s}x$s.png" >/dev/null
    done
    iconutil -c icns -o "$contents/Resources/shiftready.icns" "$iconset"
fi
if [ -n "$stage_only" ]; then
    echo "$root"
    exit 0
fi

command -v pkgbuild >/dev/null || die "pkgbuild not found: this part runs on macOS"
log "building the component package"
# The app must land in /Applications even if a user moved an older copy elsewhere.
pkgbuild --analyze --root "$root" "$work/component.plist" >/dev/null
plutil -replace 0.BundleIsRelocatable -bool NO "$work/component.plist"
mkdir -p "$work/pkgs"
pkgbuild --root "$root" --component-plist "$work/component.plist" \
    --identifier com.shiftready.agent --version "$version" \
    --scripts "$here/scripts" --install-location / "$work/pkgs/shiftready-component.pkg"
sed "s|@VERSION@|$version|g" "$here/distribution.xml.in" >"$work/distribution.xml"

mkdir -p "$OUT_DIR"
out=$OUT_DIR/ShiftReady-$version.pkg
log "building $out"
productbuild --distribution "$work/distribution.xml" --package-path "$work/pkgs" \
    ${sign:+--sign "$sign"} "$out"
echo "$out"
