#!/usr/bin/env bash
# Installs what ShiftReady needs on Debian 12 / Ubuntu 22.04+: `scripts/setup.sh demo` for the
# demo (build tools and the audio library), `scripts/setup.sh test` for the whole test suite
# (adds the test tools: sox, espeak-ng, PostgreSQL, Chromium, Xvfb, Wine, mingw, msitools,
# nftables, aiosmtpd, promtool...).
# Uses sudo when not root. Installs Rust with rustup when cargo is missing.
set -euo pipefail
what=${1:-demo}
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

demo_pkgs=(build-essential pkg-config curl ca-certificates libasound2-dev libssl-dev
  libgtk-3-dev libayatana-appindicator3-dev libxdo-dev)
test_pkgs=(alsa-utils sox espeak-ng postgresql chromium xvfb trayer imagemagick iputils-ping
  iproute2 procps python3 msitools wixl wine wine64 gcc-mingw-w64-x86-64 shellcheck dpkg-dev
  fakeroot desktop-file-utils pulseaudio pulseaudio-utils util-linux dbus nftables
  python3-aiosmtpd prometheus)

pkgs=("${demo_pkgs[@]}")
if [ "$what" = test ]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup: cargo is in ~/.cargo/bin; add it to PATH (source ~/.cargo/env)"
  else
    echo "setup: installing Rust with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal \
      --component rustfmt,clippy
  fi
fi

# The alert tests start a real SMTP server (aiosmtpd). Debian's package serves the system
# python3; a python3 of its own (pyenv, a venv) gets it from PyPI instead.
if [ "$what" = test ] && ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "setup: installing aiosmtpd for $(command -v python3) from PyPI"
  python3 -m pip install --quiet aiosmtpd || python3 -m pip install --quiet --break-system-packages aiosmtpd
fi

# The Windows installer test cross-builds the agent; scripts/check-macos.sh type-checks the
# agent's macOS modules for aarch64-apple-darwin (no linker or SDK needed).
if [ "$what" = test ] && command -v rustup >/dev/null 2>&1; then
  for t in x86_64-pc-windows-gnu aarch64-apple-darwin; do
    rustup target list --installed | grep -qx "$t" || rustup target add "$t"
  done
fi
