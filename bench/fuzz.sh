#!/usr/bin/env bash
# Fuzz a running console over loopback: 10,000 generated query strings and form bodies
# (GET list / export / health / imei / line, POST actions with the CSRF token) against a console
# in demo mode (embedded simulator). Reports the count of 5xx answers and of panics in the
# console's log; both must be 0 (exit status 1 otherwise).
#
# Usage: bench/fuzz.sh                 (builds the binary, starts it on 127.0.0.1, stops it after)
# Knobs: FUZZ_REQUESTS=10000 FUZZ_SEED=12 FUZZ_PORT=18090 CONSOLE_BIN=path/to/sentinel-console
#        FUZZ_PROFILE=release (default: debug, reusing the test build)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
REQUESTS="${FUZZ_REQUESTS:-10000}"
SEED="${FUZZ_SEED:-12}"
PORT="${FUZZ_PORT:-18090}"
PROFILE="${FUZZ_PROFILE:-debug}"
WORK="$(mktemp -d)"
LOG="$WORK/console.log"

if [ -z "${CONSOLE_BIN:-}" ]; then
    flag=(); [ "$PROFILE" = release ] && flag=(--release)
    (cd "$ROOT" && cargo build --locked "${flag[@]}" --bin sentinel-console >&2)
    CONSOLE_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/sentinel-console"
fi

# Demo mode: no SENTINEL_API_URL, no identity provider configured; loopback only.
env -u SENTINEL_API_URL -u OAUTH_ISSUER_URL -u PUBLIC_URL \
    BIND_ADDR="127.0.0.1:$PORT" DATABASE_URL="sqlite://$WORK/fuzz.db?mode=rwc" \
    RUST_LOG="${RUST_LOG:-info}" RUST_BACKTRACE=1 \
    "$CONSOLE_BIN" >"$LOG" 2>&1 &
PID=$!
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true' EXIT

for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.2
done

status=0
python3 "$HERE/fuzz.py" "http://127.0.0.1:$PORT" "$REQUESTS" "$SEED" || status=$?
panics=$(grep -c "panicked" "$LOG" || true)
echo "panics in the console log: $panics"
[ "$panics" -eq 0 ] || { grep -m5 -A3 "panicked" "$LOG"; status=1; }
exit "$status"
