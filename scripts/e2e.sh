#!/usr/bin/env bash
# The desktop app's end-to-end tests: the real weft-desktop binary (debug build) driven through
# tauri-driver and WebKitWebDriver in a virtual X display. Screenshots land in docs/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/env.sh
[ -f ui/dist/index.html ] || (cd ui && npm run --silent build)
cargo build --workspace --locked
export WEFT_DESKTOP_BIN="$CARGO_TARGET_DIR/debug/weft-desktop"
export WEBKIT_DISABLE_COMPOSITING_MODE=1
xvfb-run -a -s "-screen 0 1200x800x24" node --test --test-concurrency=1 ui/e2e/
