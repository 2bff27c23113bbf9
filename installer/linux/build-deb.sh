#!/usr/bin/env bash
# Builds the agent's .deb with plain dpkg-deb from a staging tree (no cargo-deb needed).
# Output: target/installers/shiftready_VERSION-REVISION_ARCH.deb (the path is printed last).
#
# Usage: installer/linux/build-deb.sh [--profile release|dev] [--binary PATH] [--revision N]
#   --binary    package this shiftready binary instead of building one
#   --revision  the Debian revision (default 1); a higher one upgrades the same agent version
# Needs: dpkg-deb (dpkg), dpkg-shlibdeps (dpkg-dev) for the library dependencies.
set -euo pipefail
# shellcheck source=SCRIPTDIR/../lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

profile=release
binary=
revision=1
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) profile=${2:?}; shift 2 ;;
        --binary) binary=${2:?}; shift 2 ;;
        --revision) revision=${2:?}; shift 2 ;;
        -h | --help) sed -n '2,9p' "$0"; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done
[[ $revision =~ ^[0-9][0-9A-Za-z.+~]*$ ]] || die "bad --revision '$revision'"

if [ -z "$binary" ]; then
    log "building shiftready ($profile)"
    (cd "$REPO_ROOT" && cargo build --profile "$profile" -p shiftready --bin shiftready)
    binary=$TARGET_DIR/$(profile_dir "$profile")/shiftready
fi
[ -x "$binary" ] || die "no executable at $binary"

version="$(cargo_version)-$revision"
arch=$(dpkg --print-architecture)
here=$INSTALLER_DIR/linux
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root

log "staging shiftready $version ($arch)"
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/sbin" "$root/etc/shiftready" \
    "$root/etc/xdg/autostart" "$root/usr/lib/systemd/user" "$root/usr/share/doc/shiftready"
install -m 0755 "$binary" "$root/usr/bin/shiftready"
strip --strip-unneeded "$root/usr/bin/shiftready" 2>/dev/null || true
install -m 0755 "$here/shiftready-enroll-users" "$root/usr/sbin/shiftready-enroll-users"

# The default configuration, as conffiles. The packaged agent.toml points at the packaged
# policy.toml, so IT can edit either in /etc/shiftready and keep the edits over upgrades.
sed 's|^policy_file = ""|policy_file = "/etc/shiftready/policy.toml"|' \
    "$REPO_ROOT/config/agent.toml" >"$root/etc/shiftready/agent.toml"
grep -q '^policy_file = "/etc/shiftready/policy.toml"' "$root/etc/shiftready/agent.toml" ||
    die "config/agent.toml has no 'policy_file = \"\"' line to point at /etc/shiftready/policy.toml"
install -m 0644 "$REPO_ROOT/config/policy.toml" "$root/etc/shiftready/policy.toml"
chmod 0644 "$root/etc/shiftready/agent.toml"

install -m 0644 "$here/shiftready.service" "$root/usr/lib/systemd/user/shiftready.service"
install -m 0644 "$here/shiftready.desktop" "$root/etc/xdg/autostart/shiftready.desktop"
for size in 32 48 256; do
    install -D -m 0644 "$INSTALLER_DIR/icons/shiftready-$size.png" \
        "$root/usr/share/icons/hicolor/${size}x$size/apps/shiftready.png"
done
install -D -m 0644 "$INSTALLER_DIR/icons/shiftready.svg" \
    "$root/usr/share/icons/hicolor/scalable/apps/shiftready.svg"
install -m 0644 "$INSTALLER_DIR/README.md" "$root/usr/share/doc/shiftready/README.md"
cat >"$root/usr/share/doc/shiftready/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: shiftready

Files: *
License: MIT OR Apache-2.0
EOF

# Library dependencies of the binary, the way debhelper finds them.
mkdir -p "$work/shlibs/debian"
printf 'Source: shiftready\n\nPackage: shiftready\nArchitecture: any\n' >"$work/shlibs/debian/control"
depends=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/shiftready" 2>/dev/null |
    sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || die "dpkg-shlibdeps found no dependencies (is dpkg-dev installed?)"
# The tray icon loads the AppIndicator library at run time (dlopen), which dpkg-shlibdeps
# cannot see.
if grep -qa 'appindicator3\.so' "$root/usr/bin/shiftready"; then
    depends="$depends, libayatana-appindicator3-1 | libappindicator3-1"
fi

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat >"$root/DEBIAN/control" <<EOF
Package: shiftready
Version: $version
Architecture: $arch
Maintainer: ShiftReady <it@shiftready.invalid>
Installed-Size: $installed_size
Depends: $depends, debconf (>= 0.5) | debconf-2.0, util-linux (>= 2.31)
Section: utils
Priority: optional
Homepage: https://shiftready.invalid
Description: keeps a home agent's workstation call-ready and signs them in and out of shifts
 The ShiftReady agent checks the computer before and during a shift (operating
 system, hardware load, network and voice quality to HQ, headset, background
 noise), tells the agent what to fix, signs them in and out of the shift
 automatically and reports to HQ. It starts with the desktop session (systemd
 user unit, or XDG autostart where there is no systemd user session).
EOF
(cd "$root" && find etc -type f | sort | sed 's|^|/|') >"$root/DEBIAN/conffiles"
for script in postinst prerm postrm config; do
    install -m 0755 "$here/debian/$script" "$root/DEBIAN/$script"
done
install -m 0644 "$here/debian/templates" "$root/DEBIAN/templates"

mkdir -p "$OUT_DIR"
deb=$OUT_DIR/shiftready_${version}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >&2
echo "$deb"
