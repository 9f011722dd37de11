#!/usr/bin/env bash
# Sets up what is missing, builds Weft, and runs it. Until the desktop app lands, "running Weft"
# is the `weft` command-line client: with no arguments it shows a short guided demo in a fresh
# data directory; with arguments it runs `weft <args>` on your data directory (~/.local/share/weft).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
cargo build --release --locked -p weft-cli
weft="$CARGO_TARGET_DIR/release/weft"
if (($#)); then
  exec "$weft" "$@"
fi
demo=$(mktemp -d)
echo "Demo data directory: $demo"
set -x
"$weft" --data-dir "$demo" profile init --name "Ada Lovelace" --username ada
"$weft" --data-dir "$demo" workspace create "Analytical Engines"
"$weft" --data-dir "$demo" message send '#general' "Hello **team** — the engine works offline"
"$weft" --data-dir "$demo" board create Roadmap
"$weft" --data-dir "$demo" task create --board Roadmap "Ship the relay" --priority high
"$weft" --data-dir "$demo" event create "Standup" --start "2030-01-07T09:00" --end "2030-01-07T09:15" --tz Europe/London --rrule "FREQ=WEEKLY;BYDAY=MO,WE,FR"
"$weft" --data-dir "$demo" message list '#general'
"$weft" --data-dir "$demo" search engine
set +x
echo "Try: $weft --data-dir $demo --help"
