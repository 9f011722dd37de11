#!/usr/bin/env bash
# Sets up what is missing, builds Weft, and runs it: with no arguments the desktop app (on a
# machine with a display; without one, a short guided demo of the `weft` command-line client in
# a fresh data directory); with arguments `weft <args>` on your data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
. scripts/env.sh
(cd ui && npm run --silent build)
cargo build --release --locked -p weft-cli -p weft-desktop
weft="$CARGO_TARGET_DIR/release/weft"
if (($#)); then
  exec "$weft" "$@"
fi
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  exec "$CARGO_TARGET_DIR/release/weft-desktop"
fi
echo "No display here: showing the command-line client instead of the desktop app."
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
# Two people syncing through a relay on this machine (the demo's keys go in passphrase-sealed
# files inside the demo directory, not in your keychain).
export WEFT_KEYCHAIN=off WEFT_PASSPHRASE=weft-demo
"$weft" relay --listen 127.0.0.1:0 --relay-dir "$demo/relay" > "$demo/relay.out" 2>/dev/null &
relay_pid=$!
trap 'kill $relay_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "listening on" "$demo/relay.out" 2>/dev/null && break; sleep 0.1; done
url="ws://$(sed -n 's/^listening on //p' "$demo/relay.out")/"
bob="$demo/bob"
set -x
"$weft" --data-dir "$demo" account add "$url"
"$weft" --data-dir "$demo" sync
link=$("$weft" --data-dir "$demo" invite create --uses 1)
"$weft" --data-dir "$demo" sync
"$weft" --data-dir "$bob" profile init --name "Bob Babbage" --username bob
"$weft" --data-dir "$bob" join "$link"
"$weft" --data-dir "$bob" message send '#general' "Hi Ada — this came through the relay, end to end encrypted"
"$weft" --data-dir "$bob" sync
"$weft" --data-dir "$demo" sync
"$weft" --data-dir "$demo" message list '#general'
"$weft" --data-dir "$demo" status
set +x
echo "Try: $weft --data-dir $demo --help"
