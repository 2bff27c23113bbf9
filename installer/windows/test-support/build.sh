#!/usr/bin/env bash
# TEST ONLY: builds the bcryptprimitives.dll stand-in (see bcryptprimitives.c) into DIR, next
# to the .exe that Wine runs. Never put it in an installer.
# Usage: installer/windows/test-support/build.sh DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh DIR}
mkdir -p "$out"
x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
