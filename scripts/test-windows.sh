#!/usr/bin/env bash
# The agent's Windows build, for real: cross-builds shiftready for x86_64-pc-windows-gnu (mingw)
# and runs it under Wine in a throwaway prefix:
#   - the library's unit tests (named-pipe IPC between the real server and client, the pipe's
#     user-only DACL, the LockFileEx instance lock, IcmpSendEcho to loopback, the default
#     route's adapter from the IP Helper API, and every platform-neutral test);
#   - the real shiftready.exe: the daemon, `status`/`sign-in` over its named pipe, a second
#     daemon refused, the daemon killed and restarted with its spool kept, and `probe` against
#     the HQ reflector on loopback with the gateway probe (IcmpSendEcho) aimed at 127.0.0.1;
#   - a desktop notification (WinRT toast) raised by the daemon on sign-in: Wine has no
#     notification platform, so it is logged, and the daemon must go on answering;
#   - `check --only headset` and `fix` against a private PulseAudio (Wine's winepulse shows its
#     sinks and sources as Core Audio endpoints): the headset found through Core Audio, both the
#     console and the communications default read; `fix` either changes the server's defaults
#     for real or says "unsupported here" (exit 69) with nothing changed;
#   - the session ending: the daemon enrolled with and signed in at a real `shiftready-hq` on
#     loopback, then `wineboot --end-session` (Wine sends WM_QUERYENDSESSION / WM_ENDSESSION
#     to every top-level window, lParam 0: a shutdown); HQ's shift log must show the sign-out
#     with reason `shutdown`.
# Wine needs an X display to create windows (the daemon's hidden session window): without
# DISPLAY the script starts its own Xvfb.
# With SHIFTREADY_WINDOWS_TRAY=1, also the tray build for real: in Wine's virtual desktop
# (explorer /desktop=shell) the icon appears in the taskbar's notification area, grey while
# signed out, green once "Run check now" and "Sign in" (clicked through the menu's test hook)
# sign in with a ready report, and "Quit" stops the daemon (screenshots with ImageMagick's `import`).
# Nothing leaves the machine: every address used is loopback.
#
# Needs (Debian): gcc-mingw-w64-x86-64 wine wine64 python3 xvfb imagemagick, and
# `rustup target add x86_64-pc-windows-gnu` (scripts/setup.sh test installs all of it).
# Without Wine (or mingw, or the Rust target) the missing parts are skipped and say so;
# SHIFTREADY_REQUIRE_WINE=1 turns every such skip into a failure.
# SHIFTREADY_WINDOWS_TRAY=1 also checks that the default features (the tray) build for Windows.
# Last line: "windows: N passed, M failed". Exit status 0 only with no failure.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
T=x86_64-pc-windows-gnu
tgt=${CARGO_TARGET_DIR:-$root/target}
case $tgt in /*) ;; *) tgt=$root/$tgt ;; esac
require=${SHIFTREADY_REQUIRE_WINE:-0}
wine=/usr/lib/wine/wine64 # the 64-bit loader: the `wine` wrapper wants the 32-bit half

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
not_ok() { fail=$((fail + 1)); echo "not ok - $*"; }
skip() {
    if [ "$require" = 1 ]; then not_ok "$* (SHIFTREADY_REQUIRE_WINE=1)"; else echo "skip - $*"; fi
}
finish() {
    echo "windows: $pass passed, $fail failed"
    if [ "$fail" -eq 0 ]; then exit 0; else exit 1; fi
}
t0=$SECONDS
lap() { echo "# $1: $((SECONDS - t0)) s so far"; }

# --- prerequisites ----------------------------------------------------------------------
if ! rustup target list --installed 2>/dev/null | grep -qx "$T"; then
    skip "the Rust target $T is not installed (rustup target add $T)"
    finish
fi
if ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
    skip "mingw is not installed (apt-get install gcc-mingw-w64-x86-64)"
    finish
fi

# --- cross-build --------------------------------------------------------------------------
if cargo build -q --target "$T" --no-default-features --features test-hooks --bin shiftready &&
    cargo test -q --target "$T" --no-default-features --features test-hooks --lib --no-run; then
    ok "cross-build for $T (--no-default-features): shiftready.exe and the library tests"
else
    not_ok "cross-build for $T"
    finish
fi
exe=$tgt/$T/debug/shiftready.exe
lap "cross-build"
if [ "${SHIFTREADY_WINDOWS_TRAY:-0}" = 1 ]; then
    if cargo check -q --target "$T" --bin shiftready; then
        ok "cargo check for $T with the default features (tray)"
    else
        not_ok "cargo check for $T with the default features (tray)"
    fi
    lap "tray check"
fi

if [ ! -x "$wine" ]; then
    skip "Wine is not installed ($wine missing: apt-get install wine wine64): the Windows tests did not run"
    finish
fi

# --- a throwaway Wine prefix --------------------------------------------------------------
work=$(mktemp -d "${TMPDIR:-/tmp}/shiftready-win.XXXXXX")
export WINEPREFIX=$work/prefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=;pdh=n"
daemon_pid=""
reflector_pid=""
hq_pid=""
xvfb_pid=""
pulse_pid=""
# shellcheck disable=SC2317 # called by the trap
cleanup() {
    [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
    [ -n "$pulse_pid" ] && kill "$pulse_pid" 2>/dev/null
    [ -n "$reflector_pid" ] && kill "$reflector_pid" 2>/dev/null
    [ -n "$hq_pid" ] && kill "$hq_pid" 2>/dev/null
    "${wine%/*}/wineserver" -k 2>/dev/null || true
    [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
"$wine" winecfg -v win10 >/dev/null 2>&1 || true
# Test-only stand-ins for what Wine 8.0 lacks (bcryptprimitives.dll, a pdh.dll that fails
# cleanly): see installer/windows/test-support/. Never shipped.
installer/windows/test-support/build.sh "$WINEPREFIX/drive_c/windows/system32"
lap "Wine prefix"

# Windows need a display under Wine (the daemon's hidden session window, its unit test, the
# tray): always an Xvfb of our own (800x600), never the desktop the script was started from.
if true; then
    if ! command -v Xvfb >/dev/null; then
        skip "Xvfb is not installed (apt-get install xvfb): Wine cannot create windows without a display"
        finish
    fi
    Xvfb -displayfd 3 -screen 0 800x600x24 -nolisten tcp 3>"$work/display" >"$work/xvfb.log" 2>&1 &
    xvfb_pid=$!
    for _ in $(seq 1 100); do
        [ -s "$work/display" ] && break
        sleep 0.1
    done
    if [ ! -s "$work/display" ]; then
        not_ok "Xvfb did not start: $(tail -n 5 "$work/xvfb.log")"
        finish
    fi
    DISPLAY=":$(head -n 1 "$work/display")"
    export DISPLAY
fi

# IcmpSendEcho under Wine is Linux ICMP: a raw socket (root) or a ping socket where
# net.ipv4.ping_group_range admits one of our groups.
expect_icmp=0
if [ "$(id -u)" -eq 0 ]; then
    expect_icmp=1
elif read -r lo hi </proc/sys/net/ipv4/ping_group_range; then
    for g in $(id -G); do
        if [ "$g" -ge "$lo" ] && [ "$g" -le "$hi" ]; then expect_icmp=1; fi
    done
fi
export SHIFTREADY_EXPECT_ICMP=$expect_icmp

# --- the library's unit tests under Wine --------------------------------------------------
if CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=$wine \
    cargo test -q --target "$T" --no-default-features --features test-hooks --lib >"$work/unit.log" 2>&1; then
    ok "unit tests under Wine: $(grep -E '^test result' "$work/unit.log" | tail -n 1)"
else
    not_ok "unit tests under Wine"
    grep -E 'FAILED|panicked|^test result|wine:' "$work/unit.log" | head -n 40 || tail -n 40 "$work/unit.log"
fi
lap "unit tests"

# --- the real shiftready.exe --------------------------------------------------------------
cd "$work"
w() { timeout 120 "$wine" "$exe" "$@"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1"; }
printf '[shift]\nreadiness_bar = "ready"\n' >policy.toml
printf '[agent]\nstate_dir = "state"\npolicy_file = "policy.toml"\n\n[daemon]\nnotifications = false\n' >agent.toml
printf '[agent]\nstate_dir = "other"\n' >other.toml
# The daemon reads this report instead of running the checks (its test hook; the exe is built
# with the test-hooks feature, and without it would exit saying so instead of ignoring them).
export SHIFTREADY_TEST_HOOKS_REQUIRED=1
echo '{"schema":1,"readiness":"unknown","checks":{"os":{"status":"pass","metrics":{},"hint":""}}}' >report.json
export SHIFTREADY_TEST_REPORT=report.json

if w --version | tr -d '\r' | grep -q '^shiftready '; then
    ok "shiftready.exe --version runs under Wine"
else
    not_ok "shiftready.exe --version"
fi

start_daemon() {
    SHIFTREADY_LOG=info "$wine" "$exe" --config agent.toml run --headless >>daemon.log 2>&1 &
    daemon_pid=$!
    for _ in $(seq 1 120); do
        if w --config agent.toml status --json >status.json 2>status.err; then return 0; fi
        sleep 0.25
    done
    return 1
}

if start_daemon && [ "$(json status.json 'd["state"]')" = signed_out ]; then
    ok "daemon started; status --json over the named pipe: $(json status.json 'd["state"]'), pid $(json status.json 'd["pid"]')"
else
    not_ok "daemon start and status"
    tail -n 20 daemon.log status.err 2>/dev/null || true
fi
if grep -q 'pipe\\shiftready-S-1-' daemon.log; then
    ok "the daemon listens on a per-user pipe ($(grep -o '\\\\\.\\pipe\\[^ ]*' daemon.log | head -n 1))"
else
    not_ok "per-user pipe name in the daemon's log"
fi

out=$(w --config agent.toml sign-in 2>&1 | tr -d '\r') && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && w --config agent.toml status --json >status.json &&
    [ "$(json status.json 'd["signed_in"]')" = True ]; then
    ok "sign-in over the pipe ($out); status says signed in"
else
    not_ok "sign-in (exit $rc: $out)"
fi

out=$(w --config agent.toml run --headless 2>&1 | tr -d '\r') && rc=0 || rc=$?
if [ "$rc" -eq 69 ] && grep -q 'already running' <<<"$out"; then
    ok "a second daemon for the same user and state dir is refused (exit 69: lock held)"
else
    not_ok "second daemon refused (exit $rc: $out)"
fi

out=$(w --config other.toml status 2>&1 | tr -d '\r') && rc=0 || rc=$?
if [ "$rc" -eq 69 ] && grep -q 'not running' <<<"$out"; then
    ok "status for another state dir finds no daemon (exit 69)"
else
    not_ok "status for another state dir (exit $rc: $out)"
fi

kill -KILL "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
out=$(w --config agent.toml status 2>&1 | tr -d '\r') && rc=0 || rc=$?
if [ "$rc" -eq 69 ] && grep -q 'not running' <<<"$out"; then
    ok "after SIGKILL the pipe is gone: status says not running (exit 69)"
else
    not_ok "status after SIGKILL (exit $rc: $out)"
fi
if start_daemon && [ "$(json status.json 'd["spool_events"]')" -ge 1 ]; then
    ok "restarted after SIGKILL (no stale lock); the spool kept $(json status.json 'd["spool_events"]') event(s)"
else
    not_ok "restart after SIGKILL"
    tail -n 20 daemon.log status.err 2>/dev/null || true
fi
kill -KILL "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""

# --- a desktop notification (a WinRT toast; Wine has no notification platform) ------------
# The daemon raises one on sign-in; under Wine the toast fails and is logged, and the daemon
# must go on answering.
printf '[agent]\nstate_dir = "notify"\npolicy_file = "policy.toml"\n\n[daemon]\nnotifications = true\n' >notify.toml
SHIFTREADY_LOG=info "$wine" "$exe" --config notify.toml run --headless >notify.log 2>&1 &
daemon_pid=$!
note=""
for _ in $(seq 1 120); do
    w --config notify.toml status --json >/dev/null 2>&1 && break
    sleep 0.25
done
if w --config notify.toml sign-in >/dev/null 2>&1; then
    for _ in $(seq 1 120); do
        note=$(grep -o -E '(no )?desktop notification[^;]*' notify.log | head -n 1 | tr -d '\r')
        [ -n "$note" ] && break
        sleep 0.25
    done
fi
if [ -n "$note" ] && kill -0 "$daemon_pid" 2>/dev/null &&
    w --config notify.toml status --json >status.json 2>/dev/null &&
    [ "$(json status.json 'd["signed_in"]')" = True ]; then
    ok "notification on sign-in under Wine: '$note'; the daemon still answers, signed in"
else
    not_ok "notification on sign-in (log: '$note')"
    tail -n 20 notify.log | tr -d '\r'
fi
kill -KILL "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""

# --- shiftready fix and the headset check's roles, against a real PulseAudio --------------
# Wine's audio driver (winepulse) shows a PulseAudio server's sinks and sources as Core Audio
# endpoints: a private server with a "Built-in Audio" device (the default) and a "USB Headset"
# (null sinks, remap sources on their monitors; no sound card needed). The headset check must
# find the headset through Core Audio and read both the console and the communications
# default; `fix` must give a true answer: either the defaults really changed on the server, or
# "unsupported here" (Wine has no IPolicyConfig) with nothing changed, exit 69.
if command -v pulseaudio >/dev/null && command -v pactl >/dev/null; then
    pa=$work/pulse
    mkdir -p "$pa"
    echo 'autospawn = no' >"$pa/client.conf"
    paenv=(XDG_RUNTIME_DIR="$pa" PULSE_RUNTIME_PATH="$pa" PULSE_CLIENTCONFIG="$pa/client.conf"
        PULSE_SERVER="unix:$pa/native")
    env HOME="$pa" "${paenv[@]}" pulseaudio -n --daemonize=no --exit-idle-time=-1 \
        -L "module-native-protocol-unix socket=$pa/native auth-anonymous=1" >pulse.log 2>&1 &
    pulse_pid=$!
    pac() { env HOME="$pa" "${paenv[@]}" timeout 10 pactl "$@"; }
    for _ in $(seq 1 100); do
        pac info >/dev/null 2>&1 && break
        sleep 0.1
    done
    device() { # $1 id, $2 description, $3 properties
        pac load-module module-null-sink "sink_name=$1_out" \
            "sink_properties='device.description=\"$2\" $3'" >/dev/null &&
            pac load-module module-remap-source "source_name=$1_in" "master=$1_out.monitor" \
                "source_properties='device.description=\"$2 Mono\" $3'" >/dev/null
    }
    device builtin "Built-in Audio" "device.bus=pci" &&
        device headset "USB Headset" "device.form_factor=headset device.bus=usb" &&
        pac set-default-source builtin_in && pac set-default-sink builtin_out || true
    wpa() { env -u SHIFTREADY_TEST_REPORT "${paenv[@]}" timeout 120 "$wine" "$exe" --config agent.toml "$@"; }
    wpa check --only headset --json >headset.json 2>headset.err || true
    hs() { json headset.json "d['checks']['headset']$1"; }
    if [ "$(hs "['metrics']['headset_present']")" = True ] &&
        [ "$(hs "['metrics']['is_default_input']")" = False ] &&
        [ "$(hs "['metrics'].get('is_comm_default_input')")" = False ] &&
        [ "$(hs "['status']")" = fail ]; then
        ok "headset check through Core Audio under Wine: $(hs "['metrics']['headset_name']") found, not the default (console: $(hs "['metrics']['default_input']"), communications: $(hs "['metrics']['comm_default_input']")): fail"
    else
        not_ok "headset check through Core Audio under Wine"
        head -c 3000 headset.json headset.err 2>/dev/null | tr -d '\r'
    fi
    out=$(wpa fix 2>&1 | tr -d '\r') && rc=0 || rc=$?
    src=$(pac get-default-source 2>/dev/null || true)
    sink=$(pac get-default-sink 2>/dev/null || true)
    if [ "$rc" -eq 69 ] && grep -q 'unsupported here' <<<"$out" &&
        [ "$src" = builtin_in ] && [ "$sink" = builtin_out ]; then
        ok "fix under Wine: exit 69, '$(head -c 160 <<<"$out")...'; nothing changed (the server's defaults are still $src, $sink)"
    elif [ "$rc" -le 3 ] && [ "$src" = headset_in ] && [ "$sink" = headset_out ]; then
        ok "fix under Wine changed the server's defaults to $src, $sink (exit $rc): $out"
    else
        not_ok "fix under Wine: exit $rc, defaults $src, $sink: $out"
    fi
    kill "$pulse_pid" 2>/dev/null || true
    wait "$pulse_pid" 2>/dev/null || true
    pulse_pid=""
else
    skip "PulseAudio is not installed (apt-get install pulseaudio pulseaudio-utils): no fix test under Wine"
fi
cd "$root"
lap "daemon and IPC"

# --- the voice probe and the gateway probe ------------------------------------------------
hq=$tgt/debug/shiftready-hq
if [ ! -x "$hq" ]; then cargo build -q -p shiftready-hq --bin shiftready-hq; fi
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$hq" reflector --listen "127.0.0.1:$port" >"$work/reflector.log" 2>&1 &
reflector_pid=$!
sleep 0.5
cd "$work"
if SHIFTREADY_PROBE_GATEWAY=127.0.0.1 w --config agent.toml probe --reflector "127.0.0.1:$port" \
    --seconds 2 --json >probe.json 2>probe.err; then
    probe_ok=1
else
    probe_ok=0
fi
if [ "$probe_ok" = 1 ] && [ "$(json probe.json 'd["metrics"]["received"] > 0')" = True ]; then
    ok "probe through the loopback reflector: $(json probe.json 'd["metrics"]["received"]') of $(json probe.json 'd["metrics"]["sent"]') back, MOS $(json probe.json 'round(d["metrics"]["mos"], 2)')"
else
    not_ok "probe through the loopback reflector"
    cat probe.json probe.err 2>/dev/null | head -n 40
fi
if [ "$probe_ok" = 1 ] && [ "$(json probe.json 'd["metrics"]["link"]')" != unknown ]; then
    ok "link detected: $(json probe.json 'd["metrics"]["link"]') on $(json probe.json 'd["metrics"]["interface"]')"
else
    not_ok "link detection in probe --json"
fi
gw=$( [ "$probe_ok" = 1 ] && json probe.json 'd["metrics"].get("gateway_probe")' || echo none)
if [ "$gw" = icmp_send_echo ] && [ "$(json probe.json 'd["metrics"]["gateway_loss_pct"]')" = 0.0 ]; then
    ok "gateway probe by IcmpSendEcho to 127.0.0.1: no loss, RTT $(json probe.json 'round(d["metrics"]["gateway_rtt_ms"], 2)') ms"
elif [ "$expect_icmp" = 0 ]; then
    echo "skip - gateway probe: ICMP is not open to this user under Wine (not root, ping_group_range)"
else
    not_ok "gateway probe by IcmpSendEcho (got: $gw)"
    head -n 60 probe.json 2>/dev/null
fi
cd "$root"
lap "probe"

# --- the session ends: sign-out with the reason, delivered to a real HQ --------------------
cd "$work"
export SHIFTREADY_HQ_DATABASE_URL=sqlite://$work/hq.db XDG_DATA_HOME=$work/hqdata
mkdir -p hqdata session
hqc() { timeout 60 "$hq" "$@" 2>>hq-cli.log; }
printf '[shift]\nreadiness_bar = "ready"\n' >hq-policy.toml
printf '[agent]\nstate_dir = "session"\npolicy_file = "policy.toml"\n\n[daemon]\nnotifications = false\n' >session.toml
secret=$(hqc enroll-secret create --site main | tail -n 1)
hqc policy set --site main hq-policy.toml >/dev/null
token=$(hqc token create --role viewer | tail -n 1)
"$hq" serve --listen 127.0.0.1:0 --probe-listen 127.0.0.1:0 >hq.out 2>hq.log &
hq_pid=$!
url=""
for _ in $(seq 1 100); do
    url=$(sed -n 's/^shiftready-hq: listening on //p' hq.out | tr -d '\r')
    [ -n "$url" ] && break
    sleep 0.1
done
# HQ's shift log (GET /api/v1/shifts as the IT viewer) into shifts.json.
shift_log() {
    python3 - "$url/api/v1/shifts" "$token" >shifts.json 2>/dev/null <<'PY'
import sys, urllib.request
r = urllib.request.Request(sys.argv[1], headers={"Authorization": "Bearer " + sys.argv[2]})
print(urllib.request.urlopen(r, timeout=10).read().decode())
PY
}
# (kind, reason) of every shift event HQ holds, one per line.
log_lines() { json shifts.json '"\n".join(s["kind"] + " " + s["reason"] for s in d["shifts"])'; }
session_ok=0
if [ -n "$url" ] && out=$(w --config session.toml enroll --hq "$url" --token "$secret" 2>&1); then
    SHIFTREADY_LOG=info "$wine" "$exe" --config session.toml run --headless >session.log 2>&1 &
    daemon_pid=$!
    up=0
    for _ in $(seq 1 120); do
        if w --config session.toml status --json >status.json 2>/dev/null; then up=1 && break; fi
        sleep 0.25
    done
    # The daemon's window is up once it says so (it creates it as it starts).
    for _ in $(seq 1 120); do
        grep -q 'listening for log-off, shutdown and sleep from Windows' session.log && break
        sleep 0.25
    done
    if [ "$up" = 1 ] && w --config session.toml sign-in >/dev/null 2>&1; then
        for _ in $(seq 1 120); do
            shift_log && [ "$(log_lines)" = "sign_in manual" ] && break
            sleep 0.25
        done
        if [ "$(log_lines)" = "sign_in manual" ] &&
            grep -q 'listening for log-off, shutdown and sleep from Windows' session.log; then
            session_ok=1
        fi
    fi
else
    echo "# HQ at '${url}', enroll: ${out:-}"
fi
if [ "$session_ok" = 1 ]; then
    timeout 120 "$wine" wineboot --end-session >wineboot.log 2>&1 || true
    got=""
    for _ in $(seq 1 240); do
        shift_log && got=$(log_lines | paste -sd, -)
        [ "$got" = "sign_in manual,sign_out shutdown" ] && break
        sleep 0.25
    done
    gone=0
    for _ in $(seq 1 120); do
        if ! kill -0 "$daemon_pid" 2>/dev/null; then gone=1 && break; fi
        sleep 0.25
    done
    if [ "$got" = "sign_in manual,sign_out shutdown" ] && [ "$gone" = 1 ] &&
        grep -q 'session or power message.*Shutdown' session.log; then
        ok "session end (wineboot --end-session: WM_ENDSESSION): HQ's shift log says sign_in manual, sign_out shutdown; the daemon stopped"
    else
        not_ok "session end: HQ's shift log says '$got' (want 'sign_in manual,sign_out shutdown'), daemon gone: $gone"
        tail -n 20 session.log wineboot.log 2>/dev/null | tr -d '\r'
    fi
else
    not_ok "session end: the daemon did not come up signed in at HQ"
    tail -n 20 session.log hq.log hq-cli.log 2>/dev/null | tr -d '\r'
fi
kill -KILL "$daemon_pid" 2>/dev/null || true
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
kill "$hq_pid" 2>/dev/null || true
wait "$hq_pid" 2>/dev/null || true
hq_pid=""
cd "$root"
lap "session end"

# --- the tray icon in Wine's notification area (SHIFTREADY_WINDOWS_TRAY=1) -----------------
if [ "${SHIFTREADY_WINDOWS_TRAY:-0}" = 1 ]; then
    if ! command -v import >/dev/null; then
        skip "ImageMagick is not installed (apt-get install imagemagick): no tray screenshots"
        finish
    fi
    # The tray build last: it is the same path as the headless build's exe.
    if ! cargo build -q --target "$T" --features test-hooks --bin shiftready; then
        not_ok "cross-build for $T with the default features (tray)"
        finish
    fi
    cp "$exe" "$work/shiftready-tray.exe"
    cd "$work"
    mkdir -p shots
    printf '[agent]\nstate_dir = "traystate"\npolicy_file = "policy.toml"\n\n[daemon]\nnotifications = false\n' >tray.toml
    echo '{"schema":1,"readiness":"ready","checks":{"os":{"status":"pass","metrics":{},"hint":""}}}' >ready.json
    : >menu.txt
    # Pixels of the icon's fill colour in the notification area (the bottom-right corner).
    corner() { # $1: name, $2: colour "r,g,b"
        import -window root "shots/$1.png" 2>/dev/null &&
            convert "shots/$1.png" -crop 160x30+640+570 +repage txt:- 2>/dev/null |
            python3 -c '
import re, sys
want = [int(v) for v in sys.argv[1].split(",")]
n = 0
for line in sys.stdin:
    m = re.search(r"\((\d+),(\d+),(\d+)", line)
    if m and all(abs(int(v) - w) <= 12 for v, w in zip(m.groups(), want)):
        n += 1
print(n)' "$2"
    }
    wait_colour() { # $1: name, $2: colour; true once at least 30 pixels have it
        for _ in $(seq 1 120); do
            n=$(corner "$1" "$2" || echo 0)
            [ "${n:-0}" -ge 30 ] && return 0
            sleep 0.5
        done
        return 1
    }
    "$wine" explorer /desktop=shell,800x600 >explorer.log 2>&1 &
    sleep 5
    # Before the tray starts no pixel of the corner has the signed-out grey (the taskbar's own
    # greys are lighter or darker): what follows sees the icon, not the taskbar.
    n=$(corner before 107,107,107) || n=""
    if [ -n "$n" ] && [ -s shots/before.png ] && [ "$n" -lt 30 ]; then
        ok "the notification area before the tray starts: $n pixels of the icon's grey"
    else
        not_ok "the notification area before the tray starts: '$n' pixels of the icon's grey (no screenshot?)"
    fi
    SHIFTREADY_TEST_REPORT=ready.json SHIFTREADY_TEST_TRAY_MENU_EVENTS=menu.txt SHIFTREADY_LOG=info \
        "$wine" explorer /desktop=shell,800x600 shiftready-tray.exe --config tray.toml run >tray.log 2>&1 &
    shown=0
    for _ in $(seq 1 120); do
        grep -q 'tray icon shown' tray.log && shown=1 && break
        sleep 0.5
    done
    if [ "$shown" = 1 ] && wait_colour signed_out 107,107,107; then
        ok "tray icon in Wine's notification area: grey while signed out ($n pixels; shots/signed_out.png)"
    else
        not_ok "tray icon while signed out (shown: $shown)"
        tail -n 20 tray.log | tr -d '\r'
    fi
    printf 'run_check\nsign\n' >>menu.txt
    if wait_colour ready 27,138,58; then
        ok "tray: Run check now and Sign in through the menu's path: the icon turns green with a ready report ($n pixels)"
    else
        not_ok "tray: the icon did not turn green after Sign in"
        tail -n 20 tray.log | tr -d '\r'
    fi
    echo quit >>menu.txt
    stopped=0
    for _ in $(seq 1 120); do
        grep -q 'ShiftReady daemon stopped' tray.log && stopped=1 && break
        sleep 0.5
    done
    if [ "$stopped" = 1 ] && grep -q 'signed out.*shutdown' tray.log; then
        ok "tray: Quit signs out (reason shutdown) and stops the daemon"
    else
        not_ok "tray: Quit"
        tail -n 20 tray.log | tr -d '\r'
    fi
    # Kept for a look: $CARGO_TARGET_DIR/windows-tray-shots/.
    mkdir -p "$tgt/windows-tray-shots" && cp shots/*.png "$tgt/windows-tray-shots/"
    cd "$root"
    lap "tray"
fi
finish
