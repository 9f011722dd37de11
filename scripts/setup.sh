#!/usr/bin/env bash
# Installs what building and testing Weft needs on Debian/Ubuntu, skipping what is present.
# Safe to run again; needs root (or sudo) only when something is missing.
set -euo pipefail

need_apt=()
command -v cc >/dev/null 2>&1 || need_apt+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need_apt+=(pkg-config)
command -v git >/dev/null 2>&1 || need_apt+=(git)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
# A real Secret Service for the keychain test (gnome-keyring on a private D-Bus session).
command -v gnome-keyring-daemon >/dev/null 2>&1 || need_apt+=(gnome-keyring)
command -v dbus-run-session >/dev/null 2>&1 || need_apt+=(dbus)
# weft-media: libopus builds with cmake, OpenH264's assembly with nasm, cpal needs ALSA's
# headers, nokhwa's V4L2 bindings need libclang.
command -v cmake >/dev/null 2>&1 || need_apt+=(cmake)
command -v nasm >/dev/null 2>&1 || need_apt+=(nasm)
dpkg -s libasound2-dev >/dev/null 2>&1 || need_apt+=(libasound2-dev)
dpkg -s libclang-dev >/dev/null 2>&1 || need_apt+=(libclang-dev)
# The real-device audio test: a PulseAudio server with a null sink, reached through ALSA.
command -v pulseaudio >/dev/null 2>&1 || need_apt+=(pulseaudio)
command -v pactl >/dev/null 2>&1 || need_apt+=(pulseaudio-utils)
[ -e /usr/share/alsa/alsa.conf.d/pulse.conf ] || need_apt+=(libasound2-plugins)

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "setup: adding rustup component $comp"
    rustup component add "$comp"
  fi
done
echo "setup: ok ($(cargo --version))"
