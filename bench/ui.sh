#!/usr/bin/env bash
# Speed a person feels (issue 23): starts a console in demo mode and measures the list in headless
# Chromium with bench/ui.mjs (Node 18+, /usr/bin/chromium and /usr/bin/chromedriver): the 25- and
# 500-row pages' HTML, the 500-row page painted, a sort and a page swap painted. Prints a markdown table.
#
#   bench/ui.sh              (PROFILE=release by default; PORT=18093, ROUNDS=5)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
. "$ROOT/bench/lib.sh"
PROFILE="${PROFILE:-release}"
PORT="${PORT:-18093}"
ROUNDS="${ROUNDS:-5}"
command -v node >/dev/null || die "node (18+) is needed"
require_free_ports "$PORT"
build_console
start_tmp sentinel-ui-bench
say "console on 127.0.0.1:$PORT ($PROFILE, demo mode)"
BIND_ADDR="127.0.0.1:$PORT" DATA_DIR="$TMP" DATABASE_URL="sqlite://$TMP/console.db?mode=rwc" \
    RUST_LOG=warn "$BIN" >"$TMP/console.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PORT/readyz" 60
node "$ROOT/bench/ui.mjs" "http://127.0.0.1:$PORT" "$ROUNDS"
