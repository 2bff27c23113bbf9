#!/usr/bin/env bash
# TEST ONLY: builds the stand-ins for what Wine 8.0 lacks, bcryptprimitives.dll (see
# bcryptprimitives.c) and pdh.dll (see pdh.c), into DIR: next to the .exe that Wine runs, or the
# throwaway prefix's system32 (then run Wine with WINEDLLOVERRIDES=pdh=n). Never ship them.
# Usage: installer/windows/test-support/build.sh DIR
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh DIR}
mkdir -p "$out"
x86_64-w64-mingw32-gcc -shared -O2 -o "$out/bcryptprimitives.dll" \
    "$here/bcryptprimitives.c" "$here/bcryptprimitives.def" -ladvapi32
x86_64-w64-mingw32-gcc -shared -O2 -Wno-unused-parameter -o "$out/pdh.dll" "$here/pdh.c" "$here/pdh.def"
