#!/usr/bin/env bash
# Times a 5,000-line explicit-list change (note) through the console (chunked background job,
# polled to the end) versus the same change sent straight to the simulator in one call.
# Usage: bench/bulk_change.sh   (builds the release binary first; needs curl and python3)
set -euo pipefail

cd "$(dirname "$0")/.."
LINES=${LINES:-5000}
SIM_ADDR=${SIM_ADDR:-127.0.0.1:18081}
APP_ADDR=${APP_ADDR:-127.0.0.1:18080}
BIN=${BIN:-target/release/sentinel-console}
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT

[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet
"$BIN" simulate --bind "$SIM_ADDR" --large-group 100000 >"$WORK/sim.log" 2>&1 &
PIDS+=($!)
SIM="http://$SIM_ADDR"
APP="http://$APP_ADDR"
BIND_ADDR="$APP_ADDR" DATABASE_URL="sqlite://$WORK/bench.db?mode=rwc" \
  SENTINEL_API_URL="$SIM/sentinel/api" OAUTH_AUTHORIZE_URL="$SIM/oauth/authorize" \
  OAUTH_TOKEN_URL="$SIM/oauth/token" OAUTH_REVOKE_URL="$SIM/oauth/revoke" RUST_LOG=warn \
  "$BIN" >"$WORK/app.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
  if curl -sf "$APP/healthz" >/dev/null 2>&1 && curl -s -o /dev/null "$SIM/oauth/authorize" 2>/dev/null; then break; fi
  sleep 0.1
done

now() { python3 -c 'import time; print(time.time())'; }

# Sign in to the console as "super" through the demo identity provider, with a cookie jar.
JAR="$WORK/jar"
AUTHZ=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' "$APP/login?next=/")
CALLBACK=$(curl -s -o /dev/null -w '%{redirect_url}' -X POST --data "${AUTHZ#*\?}&user=super" "${AUTHZ%%\?*}")
curl -s -c "$JAR" -b "$JAR" -o /dev/null "$CALLBACK"
CSRF=$(curl -s -c "$JAR" -b "$JAR" "$APP/devices/FLEET-LARGE" | python3 -c 'import re,sys; print(re.search(r"name=\"csrf-token\" content=\"([^\"]+)\"", sys.stdin.read()).group(1))')

# The first $LINES lines of FLEET-LARGE, read straight from the simulator with a token of its own.
TOKEN=$(curl -s -H 'Content-Type: application/json' -d '{"username":"super","password":"demo"}' \
  "$SIM/sentinel/api/v1.0/auth/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
: >"$WORK/mdns"
for off in $(seq 0 500 $((LINES - 1))); do
  curl -s -H "Authorization: Bearer $TOKEN" \
    "$SIM/sentinel/api/v1.0/devices/FLEET-LARGE?offset=$off&limit=500&sort=MDN&sortDir=ASC" |
    python3 -c 'import json,sys; [print(d["mdn"]) for d in json.load(sys.stdin)["devices"]]' >>"$WORK/mdns"
done
head -n "$LINES" "$WORK/mdns" >"$WORK/mdns.n"

# 1. Through the console: POST with confirmed=true, then poll the job page until it is done.
python3 - "$WORK/mdns.n" "$CSRF" >"$WORK/form" <<'PY'
import sys, urllib.parse
mdns = open(sys.argv[1]).read().split()
pairs = [("mdns", m) for m in mdns] + [("note", "bench console"), ("confirmed", "true"),
         ("acknowledged", "true"), ("csrf_token", sys.argv[2])]
print(urllib.parse.urlencode(pairs), end="")
PY
T0=$(now)
JOB=$(curl -s -c "$JAR" -b "$JAR" -o /dev/null -w '%{redirect_url}' -H 'Content-Type: application/x-www-form-urlencoded' \
  --data-binary @"$WORK/form" "$APP/devices/FLEET-LARGE/actions/note")
[ -n "$JOB" ] || { echo "the console did not start a job" >&2; exit 1; }
until curl -s -c "$JAR" -b "$JAR" -H 'HX-Request: true' "$JOB" | grep -q 'data-state="\(done\|failed\)"'; do sleep 0.05; done
T1=$(now)

# 2. Straight to the simulator: the same list in one PUT.
python3 - "$WORK/mdns.n" >"$WORK/body.json" <<'PY'
import json, sys
print(json.dumps({"mdns": open(sys.argv[1]).read().split(), "note": "bench direct"}))
PY
T2=$(now)
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
  --data-binary @"$WORK/body.json" "$SIM/sentinel/api/v1.0/devices/FLEET-LARGE/note"
T3=$(now)

python3 - "$T0" "$T1" "$T2" "$T3" "$(wc -l <"$WORK/mdns.n")" <<'PY'
import sys
t0, t1, t2, t3, n = map(float, sys.argv[1:])
print(f"lines changed:                 {int(n)}")
print(f"through the console (job):     {t1 - t0:.3f} s   (POST + chunks of 500, 4 at a time, polled to done)")
print(f"straight to the simulator:     {t3 - t2:.3f} s   (one PUT)")
PY
