#!/usr/bin/env bash
# Installs what building and testing Weft needs on Debian/Ubuntu, skipping what is present.
# Safe to run again; needs root (or sudo) only when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

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
# Calls through a TURN server: coturn on loopback.
command -v turnserver >/dev/null 2>&1 || need_apt+=(coturn)
# The desktop app (Tauri 2 on WebKitGTK), and its end-to-end tests: WebKit's WebDriver and a
# virtual display.
for pkg in libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev \
  libxdo-dev libssl-dev webkit2gtk-driver xvfb xauth imagemagick fonts-noto-color-emoji; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
  # The tests start their own turnserver; the package's system service is not wanted.
  if [[ " ${need_apt[*]} " == *" coturn "* ]] && command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now coturn >/dev/null 2>&1 || true
  fi
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
# tauri-driver bridges WebDriver to WebKitWebDriver for the end-to-end tests.
if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --locked --version 2.1.0
fi
# The UI's packages, exactly as locked.
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing the UI's npm packages"
  (cd ui && npm ci --no-audit --no-fund)
fi
echo "setup: ok ($(cargo --version), node $(node --version))"
