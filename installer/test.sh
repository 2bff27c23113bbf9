#!/usr/bin/env bash
# The installer test. .ci/run calls it as root on Debian 12; it changes the machine (installs and
# purges the shiftready package, adds and deletes two test accounts), so run it only on a CI or
# throwaway machine.
#
#   Linux:   builds the .deb (two revisions), installs it with dpkg, runs the installed
#            `shiftready --version` and `check --json`, enrolls test users against a local
#            `shiftready-hq serve` on loopback (environment and debconf), upgrades and shows the
#            device key and an edited conffile survived, removes, purges, and shows nothing of
#            the package is left.
#   Windows: cross-builds shiftready.exe, builds the MSI, inspects its tables with msiinfo,
#            extracts it and runs the packaged `shiftready.exe check --json` under Wine.
#   macOS:   validates the LaunchAgent plist, the payload layout and the scripts.
#
# Environment: INSTALLER_TEST_PROFILE (cargo profile, default dev), INSTALLER_TEST_SKIP
# (space-separated parts to skip: linux windows macos), SHIFTREADY_REQUIRE_INSTALLER=1 (CI): a
# skipped part is a failure, so a green run has run every part. INSTALLER_TEST_PARTS
# (space-separated, default "static linux windows macos"): the parts this run takes, for
# scripts/test.sh, which runs the static, Windows and macOS parts beside the cargo tests and the
# Linux part after them; a part left out here is neither run nor counted (not a skip: the other
# run takes it).
#
# Every line is a pass, a failure or a skip; a skip happens only for a reason outside the tree
# (INSTALLER_TEST_SKIP, not root). A program of ours that is missing or does not run is a
# failure, never a skip.
# Needs (Debian): dpkg-dev wixl msitools gcc-mingw-w64-x86-64 wine wine64 shellcheck
# desktop-file-utils python3, and `rustup target add x86_64-pc-windows-gnu`.
# bash -c '...' _ ARGS passes values as $1.. on purpose:
# shellcheck disable=SC2016
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# dev by default: CI has just built the debug binaries for `cargo test`, and the packaging is
# the same for either profile.
PROFILE=${INSTALLER_TEST_PROFILE:-dev}
SKIP=" ${INSTALLER_TEST_SKIP:-} "
PARTS=" ${INSTALLER_TEST_PARTS:-static linux windows macos} "
# not_here PART: true (and says so) when PART is not in INSTALLER_TEST_PARTS.
not_here() {
    [[ $PARTS == *" $1 "* ]] && return 1
    printf 'part %s: not in this run (INSTALLER_TEST_PARTS="%s")\n' "$1" "${INSTALLER_TEST_PARTS:-}"
}
USER1=shiftready-ci1
USER2=shiftready-ci2
PKG=shiftready

passed=0
failed=0
skipped=0
ok() {
    passed=$((passed + 1))
    printf 'ok      %s\n' "$*"
}
not_ok() {
    failed=$((failed + 1))
    printf 'FAILED  %s\n' "$*"
}
skip() {
    if [ "${SHIFTREADY_REQUIRE_INSTALLER:-}" = 1 ]; then
        not_ok "$* (skipped, but SHIFTREADY_REQUIRE_INSTALLER=1)"
        return
    fi
    skipped=$((skipped + 1))
    printf 'SKIPPED %s\n' "$*"
}
# check DESCRIPTION COMMAND...: one test line from a command's success.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
section() { printf '\n== %s\n' "$*"; }
started=$SECONDS
elapsed() { echo "$((SECONDS - started)) s"; }

WORK=$(mktemp -d /tmp/shiftready-installer-test.XXXXXX)
chmod 0755 "$WORK"
HQ_PID=
cleanup() {
    if [ -n "$HQ_PID" ]; then kill "$HQ_PID" 2>/dev/null || true; fi
    if dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null | grep -q installed; then
        dpkg --purge "$PKG" >/dev/null 2>&1 || true
    fi
    for u in "$USER1" "$USER2"; do
        if getent passwd "$u" >/dev/null; then userdel -r "$u" >/dev/null 2>&1 || true; fi
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

json_get() { # json_get FILE PYTHON-EXPRESSION-ON-d: prints the value, fails if it doesn't parse
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# A local HQ on loopback for enrollment (HQ_URL, SECRET), started once; returns 1 with the
# reason in HQ_FAILED when HQ does not run (the caller counts that as a failure).
HQ_URL=
SECRET=
HQ_FAILED=
HQ_BIN=
HQ_DB=
start_hq() {
    [ -n "$HQ_URL" ] && return 0
    [ -n "$HQ_FAILED" ] && return 1
    local hq=$2
    if [ ! -x "$hq" ] || ! "$hq" serve --help >/dev/null 2>&1; then
        HQ_FAILED="$hq is missing or does not run \`serve --help\`"
        return 1
    fi
    local db="sqlite://$WORK/hq.db" port
    HQ_BIN=$hq
    HQ_DB=$db
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    SECRET=$("$hq" enroll-secret create --site ci --database-url "$db" 2>"$WORK/hq-secret.err" | tail -n 1) || true
    check "shiftready-hq enroll-secret create prints a secret" test -n "$SECRET"
    "$hq" serve --listen "127.0.0.1:$port" --probe-listen 127.0.0.1:0 --database-url "$db" \
        >"$WORK/hq.log" 2>&1 &
    HQ_PID=$!
    local health="import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/healthz', timeout=1)"
    for _ in $(seq 100); do
        python3 -c "$health" "http://127.0.0.1:$port" 2>/dev/null && break
        sleep 0.1
    done
    if python3 -c "$health" "http://127.0.0.1:$port" 2>/dev/null; then
        ok "shiftready-hq serve answers /healthz on http://127.0.0.1:$port"
        HQ_URL=http://127.0.0.1:$port
    else
        not_ok "shiftready-hq serve answers /healthz on http://127.0.0.1:$port"
        cat "$WORK/hq.log" "$WORK/hq-secret.err"
        HQ_FAILED="HQ did not start"
        return 1
    fi
}

# ---------------------------------------------------------------------------------------------
if ! not_here static; then
    section "static checks (shellcheck, desktop entry, LaunchAgent plist)"
    check "shellcheck: build scripts and maintainer scripts" \
        shellcheck -x "$INSTALLER_DIR"/*.sh "$INSTALLER_DIR"/linux/*.sh "$INSTALLER_DIR"/windows/*.sh \
        "$INSTALLER_DIR"/windows/test-support/build.sh "$INSTALLER_DIR"/macos/build-pkg.sh
    check "shellcheck (POSIX sh): postinst prerm postrm config, enroll helper, macOS scripts" \
        shellcheck -s sh "$INSTALLER_DIR"/linux/debian/{postinst,prerm,postrm,config} \
        "$INSTALLER_DIR"/linux/shiftready-enroll-users "$INSTALLER_DIR"/macos/scripts/* \
        "$INSTALLER_DIR"/macos/uninstall.sh
    check "desktop-file-validate shiftready.desktop" desktop-file-validate "$INSTALLER_DIR/linux/shiftready.desktop"
    check "autostart Exec and TryExec name /usr/bin/shiftready" \
        grep -qx 'Exec=/usr/bin/shiftready --config /etc/shiftready/agent.toml run' "$INSTALLER_DIR/linux/shiftready.desktop"
    check "autostart entry is skipped where systemd runs the user unit" \
        grep -qx 'X-GNOME-HiddenUnderSystemd=true' "$INSTALLER_DIR/linux/shiftready.desktop"
fi

if not_here macos; then
    :
elif [[ $SKIP == *" macos "* ]]; then
    skip "macOS checks (INSTALLER_TEST_SKIP)"
else
    plist=$INSTALLER_DIR/macos/com.shiftready.agent.plist
    if program=$(python3 - "$plist" <<'EOF'
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["Label"] == "com.shiftready.agent", p["Label"]
args = p["ProgramArguments"]
assert args[0] == "/Applications/ShiftReady.app/Contents/MacOS/shiftready", args
assert args[-1] == "run", args
assert p["RunAtLoad"] is True and p["KeepAlive"] == {"SuccessfulExit": False}, p
assert p["LimitLoadToSessionType"] == "Aqua"
print(args[0])
EOF
    ); then
        ok "LaunchAgent plist parses (plistlib) and runs $program at login, restarting on failure"
    else
        not_ok "LaunchAgent plist"
    fi
    "$INSTALLER_DIR/macos/build-pkg.sh" --binary /bin/true --stage-only "$WORK/macos" >/dev/null 2>&1 || true
    check "macOS payload puts the agent where the LaunchAgent runs it" test -x "$WORK/macos${program:-/missing}"
    check "macOS payload installs the LaunchAgent" \
        cmp -s "$plist" "$WORK/macos/Library/LaunchAgents/com.shiftready.agent.plist"
    check "macOS Info.plist parses and names the agent as the bundle's executable" python3 -c '
import plistlib, sys
p = plistlib.load(open(sys.argv[1], "rb"))
assert p["CFBundleExecutable"] == sys.argv[2].rsplit("/", 1)[1] and p["LSUIElement"] is True, p
' "$WORK/macos/Applications/ShiftReady.app/Contents/Info.plist" "${program:-/x/missing}"
    check "macOS distribution.xml is well-formed" python3 -c '
import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])' "$INSTALLER_DIR/macos/distribution.xml.in"
fi

# ---------------------------------------------------------------------------------------------
if not_here linux; then
    :
elif [[ $SKIP == *" linux "* ]]; then
    skip "Linux .deb (INSTALLER_TEST_SKIP)"
elif [ "$(id -u)" -ne 0 ]; then
    skip "Linux .deb: needs root (dpkg -i)"
else
    section "Linux: build ($PROFILE) $(elapsed)"
    # One cargo run for both binaries, so they share the dependency builds.
    (cd "$REPO_ROOT" && cargo build --profile "$PROFILE" -p shiftready -p shiftready-hq)
    bin_dir=$TARGET_DIR/$(profile_dir "$PROFILE")
    deb1=$("$INSTALLER_DIR/linux/build-deb.sh" --binary "$bin_dir/shiftready" --revision 1)
    deb2=$("$INSTALLER_DIR/linux/build-deb.sh" --binary "$bin_dir/shiftready" --revision 2)
    version=$(cargo_version)
    check "built $(basename "$deb1") and $(basename "$deb2")" test -s "$deb1" -a -s "$deb2"
    dpkg-deb -c "$deb2" | awk '{print $NF}' | sed 's|^\./|/|' | grep -v '/$' | sort >"$WORK/files"
    for f in /usr/bin/shiftready /etc/shiftready/agent.toml /etc/shiftready/policy.toml \
        /usr/lib/systemd/user/shiftready.service /etc/xdg/autostart/shiftready.desktop \
        /usr/share/icons/hicolor/scalable/apps/shiftready.svg /usr/sbin/shiftready-enroll-users; do
        check "package holds $f" grep -qx "$f" "$WORK/files"
    done
    dpkg-deb -e "$deb2" "$WORK/control"
    check "agent.toml and policy.toml are conffiles" \
        diff <(sort "$WORK/control/conffiles") <(printf '%s\n' /etc/shiftready/agent.toml \
            /etc/shiftready/policy.toml /etc/xdg/autostart/shiftready.desktop)

    if dpkg-query -W -f '${Status}' "$PKG" 2>/dev/null | grep -q installed; then
        log "purging a $PKG package left from an earlier run"
        dpkg --purge "$PKG" >/dev/null
    fi
    for u in "$USER1" "$USER2"; do
        getent passwd "$u" >/dev/null && userdel -r "$u" >/dev/null 2>&1
        useradd --create-home --shell /bin/bash "$u"
    done
    home1=$(getent passwd "$USER1" | cut -d: -f6)
    home2=$(getent passwd "$USER2" | cut -d: -f6)

    section "Linux: install without enrollment $(elapsed)"
    if env -u SHIFTREADY_HQ_URL -u SHIFTREADY_ENROLL_TOKEN -u SUDO_USER \
        DEBIAN_FRONTEND=noninteractive dpkg -i "$deb1" >"$WORK/install1.log" 2>&1; then
        ok "dpkg -i $(basename "$deb1")"
    else
        not_ok "dpkg -i $(basename "$deb1")"
        cat "$WORK/install1.log"
    fi
    check "without HQ address and secret, the install prints the next step" \
        grep -q 'shiftready enroll --hq https://HQ-ADDRESS --token-file FILE-WITH-SECRET' "$WORK/install1.log"
    check "no enrollment file was written" test ! -e /etc/shiftready/enroll.toml
    check "the systemd user unit is enabled for every user" \
        test "$(readlink /etc/systemd/user/graphical-session.target.wants/shiftready.service)" = \
        /usr/lib/systemd/user/shiftready.service
    check "unit runs /usr/bin/shiftready run, restarts on failure, tied to graphical-session.target" \
        grep -q 'ExecStart=/usr/bin/shiftready --config /etc/shiftready/agent.toml run' \
        /usr/lib/systemd/user/shiftready.service
    if command -v systemd-analyze >/dev/null; then
        mkdir -p "$WORK/runtime" && chmod 0700 "$WORK/runtime"
        check "systemd-analyze verify --user shiftready.service" env XDG_RUNTIME_DIR="$WORK/runtime" \
            systemd-analyze verify --user /usr/lib/systemd/user/shiftready.service
    fi
    check "installed shiftready --version says $version" \
        bash -c '[ "$(/usr/bin/shiftready --version)" = "shiftready $1" ]' _ "$version"
    set +e
    runuser -u "$USER1" -- env -i HOME="$home1" PATH=/usr/bin:/bin \
        /usr/bin/shiftready --config /etc/shiftready/agent.toml check --json --no-send \
        >"$WORK/check.json" 2>"$WORK/check.err"
    rc=$?
    set -e
    check "installed shiftready check --json (with /etc/shiftready/agent.toml) exits 0-3 (got $rc)" test "$rc" -le 3
    if readiness=$(json_get "$WORK/check.json" 'd["readiness"]'); then
        ok "check --json prints one JSON report (readiness: $readiness)"
    else
        not_ok "check --json output parses as JSON"
        head -c 2000 "$WORK/check.json" "$WORK/check.err"
    fi

    section "Linux: enroll against a local HQ $(elapsed)"
    enrolled=0
    if ! start_hq /usr/bin/shiftready "$bin_dir/shiftready-hq"; then
        not_ok "Linux enrollment: $HQ_FAILED"
    else
        url=$HQ_URL
        secret=$SECRET
        # Enrollment at install time from the environment (reinstall of the same version).
        if SHIFTREADY_HQ_URL=$url SHIFTREADY_ENROLL_TOKEN=$secret SHIFTREADY_ENROLL_USER=$USER1 \
            DEBIAN_FRONTEND=noninteractive dpkg -i "$deb1" >"$WORK/install2.log" 2>&1; then
            ok "dpkg -i with SHIFTREADY_HQ_URL and SHIFTREADY_ENROLL_TOKEN"
        else
            not_ok "dpkg -i with SHIFTREADY_HQ_URL and SHIFTREADY_ENROLL_TOKEN"
            cat "$WORK/install2.log"
        fi
        key1=$home1/.local/share/shiftready/device.json
        check "$USER1 is enrolled: $key1 exists" test -s "$key1"
        check "the device key belongs to $USER1 with mode 0600" \
            test "$(stat -c '%U %a' "$key1" 2>/dev/null)" = "$USER1 600"
        check "the secret is stored root-only in /etc/shiftready/enroll.toml (0600 root)" \
            test "$(stat -c '%U %a' /etc/shiftready/enroll.toml 2>/dev/null)" = "root 600"
        check "$USER1 cannot read the secret" \
            bash -c '! runuser -u "$1" -- cat /etc/shiftready/enroll.toml >/dev/null 2>&1' _ "$USER1"
        check "the secret does not appear in the install output" bash -c '! grep -qF -- "$1" "$2"' _ "$secret" "$WORK/install2.log"

        # Enrollment from debconf answers (preseeded, as a management tool would).
        debconf-set-selections <<EOF
shiftready shiftready/hq_url string $url
shiftready shiftready/enroll_token password $secret
shiftready shiftready/enroll_user string $USER2
EOF
        rm -f /etc/shiftready/enroll.toml
        # For this step /usr/bin/shiftready is a wrapper that records the command line it was
        # given (what `ps` shows every user), so we see the secret is not on it.
        mv /usr/bin/shiftready /usr/bin/shiftready.real
        install -m 0666 /dev/null "$WORK/enroll-args.log"
        printf '#!/bin/sh\nprintf "%%s\\n" "$*" >>%s\nexec /usr/bin/shiftready.real "$@"\n' \
            "$WORK/enroll-args.log" >/usr/bin/shiftready
        chmod 0755 /usr/bin/shiftready
        if env -u SHIFTREADY_HQ_URL -u SHIFTREADY_ENROLL_TOKEN DEBIAN_FRONTEND=noninteractive \
            dpkg-reconfigure shiftready >"$WORK/reconfigure.log" 2>&1; then
            ok "dpkg-reconfigure with preseeded debconf answers"
        else
            not_ok "dpkg-reconfigure with preseeded debconf answers"
            cat "$WORK/reconfigure.log"
        fi
        mv -f /usr/bin/shiftready.real /usr/bin/shiftready
        check "$USER2 is enrolled from the debconf answers" test -s "$home2/.local/share/shiftready/device.json"
        check "shiftready-enroll-users passes the secret on standard input (--token-file -)" \
            grep -q -- 'enroll --hq .* --token-file -$' "$WORK/enroll-args.log"
        check "the secret is on no command line of shiftready" \
            bash -c '! grep -qF -- "$1" "$2"' _ "$secret" "$WORK/enroll-args.log"
        check "debconf no longer holds the secret" \
            bash -c '! grep -qF -- "$1" /var/cache/debconf/passwords.dat /var/cache/debconf/config.dat' _ "$secret"
        api_token=$("$HQ_BIN" token create --role viewer --database-url "$HQ_DB" 2>/dev/null | tail -n 1) || true
        check "HQ's fleet API lists both enrolled devices" python3 - "$url" "$api_token" <<'EOF'
import json, sys, urllib.request
req = urllib.request.Request(sys.argv[1] + "/api/v1/agents", headers={"Authorization": "Bearer " + sys.argv[2]})
body = json.load(urllib.request.urlopen(req, timeout=5))
agents = body if isinstance(body, list) else body.get("agents", [])
assert len(agents) >= 2, body
EOF
        enrolled=1
    fi
    if [ "$enrolled" = 0 ]; then
        # Without HQ, stand in for the key the agent would write, to show upgrades keep it.
        key1=$home1/.local/share/shiftready/device.json
        runuser -u "$USER1" -- sh -c 'umask 077; mkdir -p "$(dirname "$1")"; head -c 32 /dev/urandom | od -An -tx1 | tr -d " \n" >"$1"' _ "$key1"
        log "no HQ: using a stand-in device key for $USER1"
    fi

    section "Linux: upgrade to revision 2 $(elapsed)"
    key_before=$(sha256sum "$key1" | cut -d' ' -f1)
    state1=$(dirname "$key1")
    state_hash() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum); }
    state_before=$(state_hash "$state1")
    echo "# edited by IT" >>/etc/shiftready/agent.toml
    if DEBIAN_FRONTEND=noninteractive dpkg -i "$deb2" >"$WORK/upgrade.log" 2>&1; then
        ok "dpkg -i $(basename "$deb2") (upgrade)"
    else
        not_ok "dpkg -i $(basename "$deb2") (upgrade)"
        cat "$WORK/upgrade.log"
    fi
    check "installed version is now $version-2" \
        test "$(dpkg-query -W -f '${Version}' "$PKG")" = "$version-2"
    check "the device key survived the upgrade (same sha256)" \
        test "$(sha256sum "$key1" 2>/dev/null | cut -d' ' -f1)" = "$key_before"
    check "the whole state directory (key, spool) is unchanged ($(find "$state1" -type f | wc -l) files)" \
        test "$(state_hash "$state1")" = "$state_before"
    check "IT's edit of /etc/shiftready/agent.toml survived the upgrade" \
        grep -qx '# edited by IT' /etc/shiftready/agent.toml
    check "the upgraded agent still runs" /usr/bin/shiftready --version

    section "Linux: remove $(elapsed)"
    check "dpkg --remove shiftready" dpkg --remove "$PKG"
    check "/usr/bin/shiftready is gone" test ! -e /usr/bin/shiftready
    check "the user unit is disabled" test ! -e /etc/systemd/user/graphical-session.target.wants/shiftready.service
    check "the device key stays after remove" test -s "$key1"
    check "configuration stays after remove" test -e /etc/shiftready/agent.toml

    section "Linux: purge $(elapsed)"
    check "dpkg --purge shiftready" dpkg --purge "$PKG"
    check "dpkg -L shiftready lists nothing" bash -c '! dpkg -L "$1" >/dev/null 2>&1' _ "$PKG"
    check "/etc/shiftready is gone" test ! -e /etc/shiftready
    check "/var/lib/shiftready is gone" test ! -e /var/lib/shiftready
    left=$(while read -r f; do if [ -e "$f" ] || [ -L "$f" ]; then echo "$f"; fi; done <"$WORK/files")
    check "no file of the package is left${left:+: $left}" test -z "$left"
    check "no enablement symlink is left" test ! -e /etc/systemd/user/graphical-session.target.wants/shiftready.service
    check "debconf holds nothing for shiftready" bash -c '[ -z "$(debconf-show shiftready 2>/dev/null)" ]'
    if [ "$enrolled" = 1 ]; then
        check "purge removed the state of the users it enrolled ($USER1, $USER2)" \
            test ! -e "$home1/.local/share/shiftready" -a ! -e "$home2/.local/share/shiftready"
    else
        check "purge leaves state the package did not create" test -s "$key1"
    fi
fi

# ---------------------------------------------------------------------------------------------
if not_here windows; then
    :
elif [[ $SKIP == *" windows "* ]]; then
    skip "Windows MSI (INSTALLER_TEST_SKIP)"
else
    section "Windows: cross-build and MSI ($PROFILE) $(elapsed)"
    version=$(cargo_version)
    msi=$("$INSTALLER_DIR/windows/build-msi.sh" --profile "$PROFILE" | tail -n 1)
    check "built $(basename "$msi")" test -s "$msi"
    # The same agent as a higher version, for the upgrade (MSI compares X.Y.Z).
    IFS=. read -r major minor patch <<<"${version%%[-+]*}"
    version2=$major.$minor.$((patch + 1))
    exe_built=$TARGET_DIR/x86_64-pc-windows-gnu/$(profile_dir "$PROFILE")/shiftready.exe
    msi2=$(SHIFTREADY_INSTALLERS_DIR=$WORK/msi2 "$INSTALLER_DIR/windows/build-msi.sh" \
        --exe "$exe_built" --version "$version2" | tail -n 1)
    tables=$WORK/msi-tables
    mkdir -p "$tables"
    for t in File Registry Property Upgrade CustomAction InstallExecuteSequence Directory; do
        msiinfo export "$msi" "$t" 2>/dev/null | tr -d '\r' >"$tables/$t" || true
    done
    tab=$'\t'
    for f in shiftready.exe agent.toml policy.toml; do
        check "MSI File table holds $f" grep -q "${tab}${f}${tab}" "$tables/File"
    done
    check "MSI Registry table: HKCU (root 1) ...\\Run\\ShiftReady = \"[INSTALLDIR]shiftready.exe\" ... run" \
        grep -qF "${tab}1${tab}Software\\Microsoft\\Windows\\CurrentVersion\\Run${tab}ShiftReady${tab}\"[INSTALLDIR]shiftready.exe\" --config \"[INSTALLDIR]agent.toml\" run${tab}" "$tables/Registry"
    check "MSI UpgradeCode is the stable {C987B657-03C2-40A2-BC6E-B330BE3932FA}" \
        grep -qx "UpgradeCode${tab}{C987B657-03C2-40A2-BC6E-B330BE3932FA}" "$tables/Property"
    check "MSI Upgrade table upgrades older versions of that code in place (WIX_UPGRADE_DETECTED)" \
        grep -q "^{C987B657-03C2-40A2-BC6E-B330BE3932FA}.*WIX_UPGRADE_DETECTED" "$tables/Upgrade"
    check "MSI installs per user: into LocalAppDataFolder, no ALLUSERS" \
        bash -c 'grep -q "^UserProgramsFolder${2}LocalAppDataFolder" "$1/Directory" && ! grep -q "^ALLUSERS" "$1/Property"' _ "$tables" "$tab"
    check "MSI summary: no elevation needed (word count 10)" \
        bash -c 'msiinfo suminfo "$1" | grep -qE "^(Source|Word Count): 10 "' _ "$msi"
    check "MSI enrolls with HQ_URL and ENROLL_TOKEN (deferred custom action)" \
        grep -qF "enroll --hq \"[HQ_URL]\" --token \"[ENROLL_TOKEN]\"" "$tables/CustomAction"
    check "MSI hides ENROLL_TOKEN from logs" grep -qx "MsiHiddenProperties${tab}ENROLL_TOKEN" "$tables/Property"
    check "MSI sequence: old version removed before, enrollment after the files are installed" python3 - "$tables/InstallExecuteSequence" <<'EOF'
import sys
seq = {}
for line in open(sys.argv[1]).read().splitlines()[3:]:
    name, _cond, n = line.split("\t")
    seq[name] = int(n)
assert seq["InstallValidate"] < seq["InstallInitialize"] < seq["RemoveExistingProducts"] < seq["InstallFiles"], seq
assert seq["StopAgent"] < seq["InstallValidate"], seq
assert seq["InstallFiles"] < seq["Enroll"] < seq["InstallFinalize"] < seq["LaunchAgent"], seq
EOF
    check "the upgrade MSI has the same UpgradeCode and version $version2" bash -c '
        p=$(msiinfo export "$1" Property | tr -d "\r")
        grep -qx "UpgradeCode${2}{C987B657-03C2-40A2-BC6E-B330BE3932FA}" <<<"$p" &&
        grep -qx "ProductVersion${2}$3" <<<"$p"' _ "$msi2" "$tab" "$version2"

    wine=/usr/lib/wine/wine64
    if [ ! -x "$wine" ]; then
        not_ok "Wine: $wine missing (apt-get install wine wine64)"
    else
        section "Windows: install, run, upgrade and uninstall the MSI under Wine $(elapsed)"
        # pdh=n: the test-only pdh.dll stand-in instead of Wine's (see windows/test-support/).
        export WINEPREFIX=$WORK/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;pdh=n"
        "$wine" winecfg -v win10 >/dev/null 2>&1 || true
        # TEST ONLY: Wine 8.0 lacks bcryptprimitives.dll and pdh.dll's PdhEnumObjectsW (see
        # windows/test-support/); the stand-ins go into this throwaway prefix, never the MSI.
        "$INSTALLER_DIR/windows/test-support/build.sh" "$WINEPREFIX/drive_c/windows/system32"
        local_app=$(find "$WINEPREFIX/drive_c/users" -mindepth 3 -maxdepth 3 -path '*/AppData/Local' ! -path '*/Public/*' | head -n 1)
        install_dir=$local_app/Programs/ShiftReady
        state_dir=$local_app/ShiftReady
        win_reg() { "$wine" reg query "$@" 2>/dev/null | tr -d '\r'; }
        product_keys() { win_reg 'HKCU\Software\Microsoft\Installer\Products' | grep -F "Installer\\Products\\" || true; }
        products() { product_keys | grep -c . || true; }
        # The agents running from the installed program (Wine shows the Windows command line).
        agents() { pgrep -f 'AppData.Local.Programs.ShiftReady.shiftready\.exe' || true; }

        win_enroll=0
        if start_hq "$TARGET_DIR/$(profile_dir "$PROFILE")/shiftready" \
            "$TARGET_DIR/$(profile_dir "$PROFILE")/shiftready-hq"; then
            win_enroll=1
            check "msiexec /i /qn HQ_URL=... ENROLL_TOKEN=... (silent, per user)" \
                "$wine" msiexec /i "$msi" /qn "HQ_URL=$HQ_URL" "ENROLL_TOKEN=$SECRET"
        else
            not_ok "MSI enrollment under Wine: $HQ_FAILED"
            check "msiexec /i /qn (silent, per user)" "$wine" msiexec /i "$msi" /qn
        fi
        for f in shiftready.exe agent.toml policy.toml; do
            check "installed %LOCALAPPDATA%\\Programs\\ShiftReady\\$f" test -s "$install_dir/$f"
        done
        check "installed shiftready.exe is the one built" cmp -s "$install_dir/shiftready.exe" \
            <(msiextract -C "$WORK/msi" "$msi" >/dev/null && find "$WORK/msi" -name shiftready.exe -exec cat {} +)
        check "HKCU Run starts the installed agent at sign-in" bash -c \
            'grep -q "ShiftReady *REG_SZ *\"C:\\\\users\\\\.*\\\\AppData\\\\Local\\\\Programs\\\\ShiftReady\\\\shiftready.exe\" --config \".*agent.toml\" run" <<<"$1"' \
            _ "$(win_reg 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run')"
        check "one ShiftReady product is registered for this user" test "$(products)" = 1
        sleep 1
        agent_before=$(agents)
        check "the install started the agent (shiftready.exe run)" test "$(echo "$agent_before" | grep -c .)" = 1
        if [ "$win_enroll" = 1 ]; then
            check "the MSI enrolled this user: %LOCALAPPDATA%\\ShiftReady\\device.json" test -s "$state_dir/device.json"
        else
            mkdir -p "$state_dir" && head -c 32 /dev/urandom >"$state_dir/device.json"
            log "no HQ: using a stand-in device key in $state_dir"
        fi

        check "installed shiftready.exe --version under Wine" \
            bash -c '"$1" "$2/shiftready.exe" --version | tr -d "\r" | grep -qx "shiftready $3"' _ "$wine" "$install_dir" "$version"
        set +e
        (cd "$install_dir" && timeout 180 "$wine" ./shiftready.exe --config agent.toml check --json --no-send \
            >"$WORK/wine-check.json" 2>"$WORK/wine-check.err")
        rc=$?
        set -e
        check "installed shiftready.exe check --json under Wine exits 0-3 (got $rc)" test "$rc" -le 3
        if family=$(json_get "$WORK/wine-check.json" 'd["checks"]["os"]["metrics"].get("family", "")'); then
            ok "shiftready.exe check --json prints one JSON report"
            check "checks.os.metrics.family is windows (got ${family:-nothing}: $(json_get "$WORK/wine-check.json" 'd["checks"]["os"]["hint"]'))" \
                test "$family" = windows
        else
            not_ok "shiftready.exe check --json output parses as JSON"
            head -c 2000 "$WORK/wine-check.json" "$WORK/wine-check.err"
        fi

        key_before=$(sha256sum "$state_dir/device.json" | cut -d' ' -f1)
        product_before=$(product_keys)
        check "msiexec /i the $version2 MSI upgrades in place" "$wine" msiexec /i "$msi2" /qn
        check "still one ShiftReady product, a new one ($version2)" bash -c \
            '[ "$1" = 1 ] && [ "$2" != "$3" ]' _ "$(products)" "$product_before" \
            "$(product_keys)"
        check "the device key survived the upgrade (same sha256)" \
            test "$(sha256sum "$state_dir/device.json" | cut -d' ' -f1)" = "$key_before"
        sleep 1
        agent_after=$(agents)
        check "the upgrade stopped the old agent and started the new one" bash -c \
            '[ "$(echo "$1" | grep -c .)" = 1 ] && [ "$1" != "$2" ]' _ "$agent_after" "$agent_before"
        check "no file left in use by the upgrade (no msi*.tmp)" \
            bash -c '! ls "$1" | grep -q "^msi.*\.tmp$"' _ "$install_dir"
        check "installing the older MSI over the newer one is refused" \
            bash -c '! "$1" msiexec /i "$2" /qn' _ "$wine" "$msi"
        check "msiexec /x /qn uninstalls" "$wine" msiexec /x "$msi2" /qn
        sleep 1
        check "the uninstall stopped the agent" test -z "$(agents)"
        check "the program folder is gone" test ! -e "$install_dir"
        check "the HKCU Run entry is gone" \
            bash -c '! grep -q ShiftReady <<<"$1"' _ "$(win_reg 'HKCU\Software\Microsoft\Windows\CurrentVersion\Run')"
        check "no ShiftReady product is registered" test "$(products)" = 0
        check "the user's device key stays after uninstall" test -s "$state_dir/device.json"
        "${wine%/*}/wineserver" -k 2>/dev/null || true
    fi
fi

printf '\ninstaller test took %s\n' "$(elapsed)"
echo "installer: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
