#!/usr/bin/env bash
# Benchmark of the fleet's history (issue 24), on SQLite or PostgreSQL:
#   (a) one usage sample of the 100,000-line group FLEET-LARGE (one export stream, every line's
#       day and latest values stored in bulk) vs that export stream alone (curl from the
#       simulator, the sample's columns); the console's peak RSS (VmHWM) while sampling;
#   (b) a generated year of day rows (LINES lines × 365 days, written straight into the tables):
#       the usage page over the year, the year's proof-of-use CSV streamed, and the storage per
#       line and day (PostgreSQL: pg_total_relation_size of the history's tables; SQLite: the
#       file's growth).
# Prints a markdown table with the targets of issue 24.
#
# Usage: bench/usage.sh                       (SQLite, 20,000 generated lines)
#        DB=postgres bench/usage.sh           (PostgreSQL on 127.0.0.1:5432, 100,000 lines)
# Knobs: PROFILE=release|debug, PG_ADMIN=postgres://postgres@127.0.0.1:5432/test, LINES=…
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
PROFILE="${PROFILE:-release}"
DB="${DB:-sqlite}"
GROUP="FLEET-LARGE"
SIM=127.0.0.1:18093
CONSOLE=127.0.0.1:18092
PG_ADMIN="${PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
if [ "$DB" = postgres ]; then LINES="${LINES:-100000}"; else LINES="${LINES:-20000}"; fi
COLUMNS="MDN,NICKNAME,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LABELS,MONTHLY_AMOUNT_USED,DAY_AMOUNT_USED,LAST_30_DAYS_USED,MONTHLY_LIMIT,DAILY_LIMIT,SUMMER_STATUS,MEDIA_CENTER_STATUS"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

build_console
require_free_ports 18092 18093
start_tmp sentinel-usage-bench

if [ "$DB" = postgres ]; then
    NAME="usage_bench_$$"
    psql -q "$PG_ADMIN" -c "CREATE DATABASE $NAME" >/dev/null
    DATABASE_URL="${PG_ADMIN%/*}/$NAME"
    sql() { psql -qAt "$DATABASE_URL" -c "$1"; }
else
    DATABASE_URL="sqlite://$TMP/console.db?mode=rwc"
    sql() { sqlite3 "$TMP/console.db" "$1"; }
fi

say "simulator on $SIM (100000 lines in $GROUP)"
"$BIN" simulate --bind "$SIM" --large-group 100000 >"$TMP/sim.log" 2>&1 &
PIDS+=($!)
wait_http "http://$SIM/" 30
say "console on $CONSOLE ($DB)"
env BIND_ADDR="$CONSOLE" SENTINEL_API_URL="http://$SIM/sentinel/api" \
    OAUTH_AUTHORIZE_URL="http://$SIM/oauth/authorize" OAUTH_TOKEN_URL="http://$SIM/oauth/token" \
    OAUTH_REVOKE_URL="http://$SIM/oauth/revoke" DATABASE_URL="$DATABASE_URL" \
    USAGE_SAMPLE_SECS=86400 RUST_LOG=warn,sentinel_console::usage=info \
    "$BIN" serve >"$TMP/console.log" 2>&1 &
CPID=$!
PIDS+=("$CPID")
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$CONSOLE/readyz")" = "200" ]; do
    kill -0 "$CPID" 2>/dev/null || { cat "$TMP/console.log" >&2; die "console exited"; }
    sleep 0.05
done
demo_sign_in "$SIM" "$CONSOLE" tech

EXPORT_SIM="http://$SIM/sentinel/api/v1.0/devices/$GROUP?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=$COLUMNS&export=CSV"
say "the export stream alone (3 runs)"
curl -sf -o /dev/null -H "Authorization: Bearer $TOKEN" "$EXPORT_SIM"
EXPORT_MS=0
for _ in 1 2 3; do
    t=$(curl -sf -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $TOKEN" "$EXPORT_SIM")
    EXPORT_MS=$(awk -v a="$EXPORT_MS" -v b="$t" 'BEGIN { print a + b * 1000 / 3 }')
done

say "one sample of $GROUP"
CSRF=$(curl -sf -H "Cookie: $COOKIE" "http://$CONSOLE/devices/$GROUP/usage" | sed -n 's/.*name="csrf-token" content="\([^"]*\)".*/\1/p' | head -1)
echo 5 >"/proc/$CPID/clear_refs" 2>/dev/null || say "cannot reset VmHWM"
curl -sf -o /dev/null -H "Cookie: $COOKIE" --data "enabled=true&csrf_token=$CSRF" "http://$CONSOLE/devices/$GROUP/tracking"
deadline=$((SECONDS + 600))
until sql "SELECT elapsed_ms FROM usage_samples WHERE ok" | grep -q .; do
    [ "$SECONDS" -lt "$deadline" ] || { cat "$TMP/console.log" >&2; die "no sample within 10 minutes"; }
    sql "SELECT message FROM usage_samples WHERE NOT ok" | grep . && die "the sample failed"
    sleep 0.2
done
SAMPLE_MS=$(sql "SELECT elapsed_ms FROM usage_samples WHERE ok LIMIT 1")
SAMPLE_RSS=$(( $(rss_kib "$CPID" VmHWM) / 1024 ))
GID=$(sql "SELECT gid FROM usage_tracking WHERE corp_id = '$GROUP'")
SAMPLED=$(sql "SELECT COUNT(*) FROM usage_latest WHERE gid = $GID")
[ "$SAMPLED" = 100000 ] || die "the sample stored $SAMPLED lines"

say "generating a year of day rows for $LINES lines"
CELL="0a000000010002000000080000000000" # 0.10 MB, status 1, filter group 2, limits as set
ROW=$(printf "$CELL%.0s" $(seq 31))
TODAY=$(( $(date -u +%s) / 86400 ))
MONTH_NOW=$(( $(date -u +%Y) * 12 + 10#$(date -u +%m) - 1 ))
sql "DELETE FROM usage_months WHERE gid = $GID"
if [ "$DB" = postgres ]; then
    sql "INSERT INTO usage_months (gid, mdn, month, days) SELECT $GID, l.mdn, m, '\\x$ROW'::bytea
         FROM (SELECT mdn FROM usage_latest WHERE gid = $GID ORDER BY mdn LIMIT $LINES) l,
         generate_series($MONTH_NOW - 11, $MONTH_NOW) m"
    sql "INSERT INTO usage_group_days (gid, day, dim, name, usage, used_lines, sampled_lines)
         SELECT $GID, d, k, CASE WHEN k = 0 THEN 0 ELSE 1 END, 1000000, $LINES, $LINES
         FROM generate_series($TODAY - 364, $TODAY - 1) d, generate_series(0, 5) k ON CONFLICT DO NOTHING"
    sql "VACUUM ANALYZE usage_months"
    BYTES=$(sql "SELECT pg_total_relation_size('usage_months') + pg_total_relation_size('usage_group_days')")
else
    BEFORE=$(stat -c %s "$TMP/console.db")
    sql "WITH RECURSIVE m(x) AS (SELECT $MONTH_NOW - 11 UNION ALL SELECT x + 1 FROM m WHERE x < $MONTH_NOW)
         INSERT INTO usage_months (gid, mdn, month, days) SELECT $GID, l.mdn, m.x, X'$ROW'
         FROM (SELECT mdn FROM usage_latest WHERE gid = $GID ORDER BY mdn LIMIT $LINES) l, m"
    sql "WITH RECURSIVE d(x) AS (SELECT $TODAY - 364 UNION ALL SELECT x + 1 FROM d WHERE x < $TODAY - 1),
         k(y) AS (SELECT 0 UNION ALL SELECT y + 1 FROM k WHERE y < 5)
         INSERT OR IGNORE INTO usage_group_days (gid, day, dim, name, usage, used_lines, sampled_lines)
         SELECT $GID, d.x, k.y, CASE WHEN k.y = 0 THEN 0 ELSE 1 END, 1000000, $LINES, $LINES FROM d, k"
    sql "PRAGMA wal_checkpoint(TRUNCATE)" >/dev/null
    BYTES=$(( $(stat -c %s "$TMP/console.db") - BEFORE ))
fi
PER_DAY=$(awk -v b="$BYTES" -v n="$LINES" 'BEGIN { printf "%.1f", b / (n * 365) }')

FROM=$(date -u -d "@$(( (TODAY - 364) * 86400 ))" +%F)
TO=$(date -u +%F)
say "the usage page over the year"
PAGE="http://$CONSOLE/devices/$GROUP/usage?from=$FROM&to=$TO&by=filter_group"
curl -sf -o /dev/null -H "Cookie: $COOKIE" "$PAGE" || die "usage page failed"
PAGE_MS=$(curl -sf -o /dev/null -w '%{time_total}' -H "Cookie: $COOKIE" "$PAGE" | awk '{ printf "%.0f", $1 * 1000 }')
say "the year's proof of use (gzip)"
CSV="http://$CONSOLE/devices/$GROUP/usage.csv?from=$FROM&to=$TO"
CSV_MS=$(curl -sf --compressed -o "$TMP/proof.csv" -w '%{time_total}' -H "Cookie: $COOKIE" "$CSV" | awk '{ printf "%.0f", $1 * 1000 }')
ROWS=$(( $(wc -l <"$TMP/proof.csv") - 1 ))
[ "$ROWS" -ge "$LINES" ] || die "the proof of use has $ROWS rows"
CSV_RSS=$(( $(rss_kib "$CPID" VmHWM) / 1024 ))

[ "$DB" = postgres ] && { kill "$CPID"; wait "$CPID" 2>/dev/null || true; psql -q "$PG_ADMIN" -c "DROP DATABASE $NAME" >/dev/null || true; }

cat <<TABLE

| $DB, $PROFILE build | measured | target |
| --- | --- | --- |
| one sample of 100,000 lines | $SAMPLE_MS ms (export alone: $(printf '%.0f' "$EXPORT_MS") ms) | ≤ 1.5 × the export |
| console peak RSS while sampling | $SAMPLE_RSS MiB | ≤ 64 MiB |
| usage page over a year, $LINES lines | $PAGE_MS ms | ≤ 500 ms |
| proof of use CSV over a year, $ROWS lines | $CSV_MS ms (peak RSS $CSV_RSS MiB) | ≤ 5 s |
| storage per line and day | $PER_DAY bytes | ≤ 40 bytes (PostgreSQL) |
TABLE
