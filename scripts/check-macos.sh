#!/usr/bin/env bash
# Type-checks (and lints) the agent's macOS modules for real, for aarch64-apple-darwin, although
# the agent itself cannot be built for macOS here (aws-lc-sys's C build needs Apple's SDK): a
# scratch crate in a temporary directory holds the macOS files through #[path] (the fix and its
# pure decision, CoreAudio, the daemon's NSWorkspace observers and notifications, the agent's
# i18n they speak through) with only their pure-Rust dependencies: proto, core, and the
# `[target.'cfg(target_os = "macos")'.dependencies]` of the agent's Cargo.toml, read from it so
# the two cannot drift. `cargo clippy -D warnings` needs no linker and no SDK.
#
# Needs `rustup target add aarch64-apple-darwin`; without it this skips and says so
# (SHIFTREADY_REQUIRE_MACOS=1 makes that a failure). Last line: "macos: N passed, M failed".
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
T=aarch64-apple-darwin
if ! rustup target list --installed 2>/dev/null | grep -qx "$T"; then
    if [ "${SHIFTREADY_REQUIRE_MACOS:-0}" = 1 ]; then
        echo "not ok - the Rust target $T is not installed (rustup target add $T)"
        echo "macos: 0 passed, 1 failed"
        exit 1
    fi
    echo "skip - the Rust target $T is not installed (rustup target add $T)"
    echo "macos: 0 passed, 0 failed"
    exit 0
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/shiftready-macos.XXXXXX")
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
python3 - "$root" "$dir" <<'PY'
import sys, tomllib
root, out = sys.argv[1], sys.argv[2]
cargo = tomllib.load(open(f"{root}/Cargo.toml", "rb"))
ws = cargo["workspace"]["dependencies"]
mac = cargo["target"]['cfg(target_os = "macos")']["dependencies"]

def dep(name, spec):
    if isinstance(spec, str):
        return f'{name} = "{spec}"'
    parts = []
    for k, v in spec.items():
        if isinstance(v, bool):
            parts.append(f"{k} = {'true' if v else 'false'}")
        elif isinstance(v, list):
            parts.append(f"{k} = [" + ", ".join(f'"{x}"' for x in v) + "]")
        else:
            parts.append(f'{k} = "{v}"')
    return f"{name} = {{ " + ", ".join(parts) + " }"

lines = [
    "[package]", 'name = "shiftready-macos-check"', 'version = "0.0.0"', 'edition = "2024"',
    "publish = false", "", "[workspace]", "", "[lints.rust]", 'unsafe_code = "deny"', "",
    "[dependencies]",
    f'proto = {{ path = "{root}/proto", package = "shiftready-proto" }}',
    f'shiftready-core = {{ path = "{root}/core" }}',
]
for name in ["serde", "serde_json", "tokio", "tracing", "chrono", "anyhow"]:
    spec = dict(ws[name]) if isinstance(ws[name], dict) else {"version": ws[name]}
    lines.append(dep(name, spec))
lines.append(dep("sys-locale", cargo["dependencies"]["sys-locale"]))
lines += ["", "[target.'cfg(target_os = \"macos\")'.dependencies]"]
lines += [dep(n, s) for n, s in mac.items()]
open(f"{out}/Cargo.toml", "w").write("\n".join(lines) + "\n")
PY
cat >"$dir/src/lib.rs" <<RS
//! The agent's macOS modules, as the agent's own crate lays them out.
#[path = "$root/src/i18n.rs"]
pub mod i18n;
#[path = "$root/src/fix/mod.rs"]
pub mod fix;
pub mod platform {
    pub mod macos {
        #[path = "$root/src/platform/macos/audio.rs"]
        pub mod audio;
    }
}
pub mod daemon {
    #[path = "$root/src/daemon/os/mod.rs"]
    pub mod os;
}
RS
cp "$root/Cargo.lock" "$dir/Cargo.lock"
if CARGO_TARGET_DIR="$root/target/macos-check" cargo clippy -q --manifest-path "$dir/Cargo.toml" \
    --target "$T" -- -D warnings; then
    echo "ok - the macOS modules type-check and lint clean for $T (fix, CoreAudio, NSWorkspace, notifications)"
    echo "macos: 1 passed, 0 failed"
else
    echo "not ok - the macOS modules for $T"
    echo "macos: 0 passed, 1 failed"
    exit 1
fi
