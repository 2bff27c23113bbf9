#!/bin/sh
# Removes ShiftReady from this Mac (run with sudo). Users' data in
# ~/Library/Application Support/ShiftReady (device key, spool) stays unless --purge is given,
# which also removes it and /Library/Application Support/ShiftReady (with the enroll secret).
set -u

LABEL=com.shiftready.agent
purge=0
[ "${1:-}" = --purge ] && purge=1
if [ "$(id -u)" -ne 0 ]; then
    echo "run with sudo" >&2
    exit 64
fi

for uid in $(ps -axo uid=,comm= | awk '/ShiftReady.app/ {print $1}' | sort -u); do
    launchctl bootout "gui/$uid/$LABEL" 2>/dev/null || true
done
console_user=$(stat -f %Su /dev/console 2>/dev/null || echo root)
if [ "$console_user" != root ] && [ "$console_user" != loginwindow ]; then
    launchctl bootout "gui/$(id -u "$console_user")/$LABEL" 2>/dev/null || true
fi

rm -f /Library/LaunchAgents/com.shiftready.agent.plist
if [ "$(readlink /usr/local/bin/shiftready 2>/dev/null)" = /Applications/ShiftReady.app/Contents/MacOS/shiftready ]; then
    rm -f /usr/local/bin/shiftready
fi
rm -rf /Applications/ShiftReady.app
pkgutil --forget com.shiftready.agent >/dev/null 2>&1 || true

if [ "$purge" = 1 ]; then
    rm -rf "/Library/Application Support/ShiftReady"
    for home in /Users/*; do
        [ -d "$home/Library/Application Support/ShiftReady" ] &&
            rm -rf "$home/Library/Application Support/ShiftReady"
    done
fi
echo "ShiftReady removed."
