#!/usr/bin/env bash
# Benchmark: what does the console cost on top of the Sentinel API?
#
# Measures in one run, on this machine:
#   (a) the device list page (25 rows, HTML, signed in) through the console, vs the simulator's
#       JSON list through nginx proxy_pass, vs the simulator directly: req/s, p50, p99 (wrk);
#   (b) a CSV export of 100,000 lines through the console vs curl straight from the simulator:
#       wall time (hyperfine) and the console's peak RSS (VmHWM);
#   (c) the console's idle RSS and its time from start to /readyz = 200.
# and prints a markdown table with the targets of issue 4.
#
# Usage: bench/run.sh            (from anywhere; installs nginx, wrk, hyperfine when missing)
# Knobs: DURATION=10s CONNECTIONS=16 THREADS=2 EXPORT_RUNS=5 LIST_GROUP=NORTHSTAR-ISD
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-2}"
EXPORT_RUNS="${EXPORT_RUNS:-5}"
LIST_GROUP="${LIST_GROUP:-NORTHSTAR-ISD}"
LARGE_GROUP="FLEET-LARGE"
LARGE_LINES=100000
SIM=127.0.0.1:18081
NGINX=127.0.0.1:18082
CONSOLE=127.0.0.1:18080
COLUMNS="MDN,NICKNAME,STATUS,NETWORK,DEVICE_NAME,FILTER_GROUP,IMEI,LAST_30_DAYS_USED,MONTHLY_LIMIT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

# ---- tools -------------------------------------------------------------------------------
need=()
for tool in nginx:nginx wrk:wrk hyperfine:hyperfine curl:curl; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${tool%%:*}" ] || need+=("${tool##*:}")
done
[ -x /usr/bin/time ] || need+=(time)
if [ "${#need[@]}" -gt 0 ]; then
    say "installing ${need[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
NGINX_BIN="$(command -v nginx || echo /usr/sbin/nginx)"

# ---- build -------------------------------------------------------------------------------
say "cargo build --release"
(cd "$ROOT" && cargo build --release --quiet)
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/sentinel-console"
[ -x "$BIN" ] || die "no binary at $BIN"

require_free_ports 18080 18081 18082

start_tmp sentinel-bench


now_ns() { date +%s%N; }

# ---- simulator, nginx ----------------------------------------------------------------------
say "simulator on $SIM ($LARGE_LINES lines in $LARGE_GROUP)"
"$BIN" simulate --bind "$SIM" --large-group "$LARGE_LINES" >"$TMP/sim.log" 2>&1 &
PIDS+=($!)
wait_http "http://$SIM/" 20

say "nginx on $NGINX (proxy_pass to the simulator)"
mkdir -p "$TMP/nginx"
cp "$HERE/nginx.conf" "$TMP/nginx/nginx.conf"
NGINX_GLOBAL="daemon off;"
# As root, workers would switch to "nobody" and could not use the private temp dirs.
[ "$(id -u)" -eq 0 ] && NGINX_GLOBAL="$NGINX_GLOBAL user root;"
"$NGINX_BIN" -p "$TMP/nginx" -c nginx.conf -g "$NGINX_GLOBAL" 2>"$TMP/nginx/stderr.log" &
PIDS+=($!)
wait_http "http://$NGINX/" 10

# ---- console: time to ready, idle RSS ------------------------------------------------------
say "console on $CONSOLE"
T0=$(now_ns)
env BIND_ADDR="$CONSOLE" \
    SENTINEL_API_URL="http://$SIM/sentinel/api" \
    OAUTH_AUTHORIZE_URL="http://$SIM/oauth/authorize" \
    OAUTH_TOKEN_URL="http://$SIM/oauth/token" \
    OAUTH_REVOKE_URL="http://$SIM/oauth/revoke" \
    OAUTH_CLIENT_ID="sentinel-console" \
    DATABASE_URL="sqlite://$TMP/console.db?mode=rwc" \
    RUST_LOG=warn \
    "$BIN" serve >"$TMP/console.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$CONSOLE/readyz")" = "200" ]; do
    kill -0 "$CPID" 2>/dev/null || { cat "$TMP/console.log" >&2; die "console exited"; }
    [ $(( $(now_ns) - T0 )) -lt 20000000000 ] || die "console not ready after 20 s"
    sleep 0.002
done
READY_MS=$(( ($(now_ns) - T0) / 1000000 ))
sleep 1
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }
IDLE_RSS_KIB=$(rss_kib "$CPID" VmRSS)

# ---- sign in through the demo IdP (user "tech") --------------------------------------------
say "signing in as tech"
JAR="$TMP/cookies.txt"
loc() { awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }' "$1"; }
curl -s -o /dev/null -D "$TMP/h1" -c "$JAR" -b "$JAR" "http://$CONSOLE/login?next=/"
AUTHZ="$(loc "$TMP/h1")"
[ -n "$AUTHZ" ] || die "GET /login did not redirect to the identity provider"
case "$AUTHZ" in http*) ;; *) AUTHZ="http://$CONSOLE$AUTHZ" ;; esac
curl -s -o /dev/null -b "$JAR" -c "$JAR" "$AUTHZ" # the sign-in page itself
# The demo sign-in page posts the authorize query back with the chosen user.
curl -s -o /dev/null -D "$TMP/h2" -b "$JAR" -c "$JAR" \
    --data "${AUTHZ#*\?}&user=tech" "${AUTHZ%%\?*}"
CALLBACK="$(loc "$TMP/h2")"
[ -n "$CALLBACK" ] || die "the demo sign-in did not redirect back"
curl -s -o /dev/null -D "$TMP/h3" -b "$JAR" -c "$JAR" "$CALLBACK"
# Every cookie of the jar (cookies ignore ports: the simulator's would be sent by a browser too).
COOKIE="$(awk -F'\t' 'NF >= 7 && ($1 ~ /^#HttpOnly_/ || $1 !~ /^#/) { c = c (c ? "; " : "") $6 "=" $7 } END { print c }' "$JAR")"
[ -n "$COOKIE" ] || die "no session cookie after sign-in"
LIST_URL="http://$CONSOLE/devices/$LIST_GROUP?limit=25"
code=$(curl -s -o "$TMP/list.html" -w '%{http_code}' -H "Cookie: $COOKIE" "$LIST_URL")
[ "$code" = 200 ] || die "signed-in list page answered $code"
rows=$(grep -c '<tr data-mdn=' "$TMP/list.html" || true)
[ "$rows" = 25 ] || die "list page has $rows rows, expected 25"

TOKEN="$(curl -s -H 'Content-Type: application/json' \
    -d '{"username":"tech","password":"demo"}' \
    "http://$SIM/sentinel/api/v1.0/auth/token" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')"
[ -n "$TOKEN" ] || die "no token from the simulator's POST /v1.0/auth/token"
API_LIST="/sentinel/api/v1.0/devices/$LIST_GROUP?offset=0&limit=25&sort=MDN&sortDir=ASC"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "http://$NGINX$API_LIST")
[ "$code" = 200 ] || die "the simulator's list through nginx answered $code"

# ---- (a) list: console vs nginx vs simulator ------------------------------------------------
to_ms() { # wrk latency like 812.00us / 1.23ms / 1.02s -> ms
    awk -v v="$1" 'BEGIN {
        n = v + 0
        if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000
        printf "%.3f", n }'
}
run_wrk() { # name, url, header
    say "wrk $1 ($DURATION, $CONNECTIONS connections)"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "$3" "$2" >"$TMP/wrk-$1.txt"
    local rps p50 p99 errors
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$TMP/wrk-$1.txt")
    p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$TMP/wrk-$1.txt")")
    p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$TMP/wrk-$1.txt")")
    errors=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$TMP/wrk-$1.txt")
    [ -z "$errors" ] || die "wrk $1: $errors non-2xx answers"
    printf '%s %s %s\n' "$rps" "$p50" "$p99" >"$TMP/wrk-$1.result"
}
run_wrk console "$LIST_URL" "Cookie: $COOKIE"
run_wrk nginx "http://$NGINX$API_LIST" "Authorization: Bearer $TOKEN"
run_wrk simulator "http://$SIM$API_LIST" "Authorization: Bearer $TOKEN"
read -r C_RPS C_P50 C_P99 <"$TMP/wrk-console.result"
read -r N_RPS N_P50 N_P99 <"$TMP/wrk-nginx.result"
read -r S_RPS S_P50 S_P99 <"$TMP/wrk-simulator.result"
LOADED_RSS_KIB=$(rss_kib "$CPID" VmRSS)

# ---- (b) export of 100,000 lines: console vs curl straight from the simulator ----------------
EXPORT_CONSOLE="http://$CONSOLE/devices/$LARGE_GROUP/export.csv?columns=$COLUMNS"
EXPORT_SIM="http://$SIM/sentinel/api/v1.0/devices/$LARGE_GROUP?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=$COLUMNS&export=CSV"
say "checking both exports are complete"
curl -sf -H "Cookie: $COOKIE" "$EXPORT_CONSOLE" -o "$TMP/console.csv" || die "console export failed"
curl -sf -H "Authorization: Bearer $TOKEN" "$EXPORT_SIM" -o "$TMP/sim.csv" || die "simulator export failed"
lines=$(wc -l <"$TMP/console.csv")
[ "$lines" -eq $((LARGE_LINES + 1)) ] || die "console export has $lines lines, expected $((LARGE_LINES + 1))"
cmp -s "$TMP/console.csv" "$TMP/sim.csv" || die "console export differs from the simulator's"
EXPORT_BYTES=$(wc -c <"$TMP/console.csv")
rm -f "$TMP/console.csv" "$TMP/sim.csv"

# Reset the console's peak RSS (Linux: "5" > clear_refs), so VmHWM is the export's peak.
echo 5 >"/proc/$CPID/clear_refs" 2>/dev/null || say "cannot reset VmHWM; the peak includes the list run"
say "hyperfine: $EXPORT_RUNS exports each"
hyperfine --style none --warmup 1 --runs "$EXPORT_RUNS" --export-csv "$TMP/export.csv" \
    -n console "curl -sf -o /dev/null -H 'Cookie: $COOKIE' '$EXPORT_CONSOLE'" \
    -n direct "curl -sf -o /dev/null -H 'Authorization: Bearer $TOKEN' '$EXPORT_SIM'" >"$TMP/hyperfine.txt"
mean_ms() { awk -F, -v n="$1" '$1 == n { printf "%.1f", $2 * 1000 }' "$TMP/export.csv"; }
E_CONSOLE_MS=$(mean_ms console)
E_DIRECT_MS=$(mean_ms direct)
PEAK_RSS_KIB=$(rss_kib "$CPID" VmHWM)

# ---- report -------------------------------------------------------------------------------
f() { awk -v x="$1" 'BEGIN { printf "%.1f", x }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { # expression true = met
    if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi
}
ADDED_P50=$(awk -v a="$C_P50" -v b="$N_P50" 'BEGIN { printf "%.3f", a - b }')
RPS_RATIO=$(ratio "$C_RPS" "$N_RPS")
EXPORT_RATIO=$(ratio "$E_CONSOLE_MS" "$E_DIRECT_MS")
PEAK_MIB=$(mib "$PEAK_RSS_KIB")
IDLE_MIB=$(mib "$IDLE_RSS_KIB")

cat <<EOF

## Benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION)

List page: \`GET /devices/$LIST_GROUP?limit=25\` (HTML, signed in; the console also asks for the totals)
vs \`GET $API_LIST\` (JSON) through nginx and straight from the simulator.

| measurement | console | nginx → simulator | simulator | ratio / difference | target | |
| --- | ---: | ---: | ---: | ---: | --- | --- |
| list: requests/s | $(f "$C_RPS") | $(f "$N_RPS") | $(f "$S_RPS") | console/nginx = $RPS_RATIO | ≥ 0.8 | $(verdict "$RPS_RATIO >= 0.8") |
| list: p50 latency (ms) | $C_P50 | $N_P50 | $S_P50 | +$ADDED_P50 ms | ≤ +1 ms | $(verdict "$ADDED_P50 <= 1") |
| list: p99 latency (ms) | $C_P99 | $N_P99 | $S_P99 | | | |

| measurement | console | curl from simulator | ratio | target | |
| --- | ---: | ---: | ---: | --- | --- |
| CSV export, $LARGE_LINES lines ($(mib $((EXPORT_BYTES / 1024))) MiB), mean of $EXPORT_RUNS (ms) | $E_CONSOLE_MS | $E_DIRECT_MS | $EXPORT_RATIO | ≤ 1.2 | $(verdict "$EXPORT_RATIO <= 1.2") |
| console peak RSS during the exports (MiB) | $PEAK_MIB | | | ≤ 64 | $(verdict "$PEAK_MIB <= 64") |

| measurement | console | target | |
| --- | ---: | --- | --- |
| idle RSS after start (MiB) | $IDLE_MIB | ≤ 30 | $(verdict "$IDLE_MIB <= 30") |
| RSS after the list load (MiB) | $(mib "$LOADED_RSS_KIB") | | |
| start to \`/readyz\` = 200 (ms) | $READY_MS | ≤ 300 | $(verdict "$READY_MS <= 300") |
EOF
