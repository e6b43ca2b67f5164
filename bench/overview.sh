#!/usr/bin/env bash
# Benchmark of the device group overview (issue 13) for the 100,000-line group FLEET-LARGE:
#   (a) the overview computed afresh (`?refresh=1`: one streamed export, aggregated as it arrives)
#       vs the export stream itself (the same columns, curl straight from the simulator, and the
#       console's own export.csv), mean wall time of RUNS each (curl's time_total);
#   (b) the console's peak RSS (VmHWM, reset before the overview runs) while computing;
#   (c) then the heaviest pages a figure leads to: the selection of its largest figure (up to
#       50,000 MDNs in the form) and that figure's CSV; the peak RSS after those.
# Prints a markdown table with the targets of issue 13 (≤ 1.5 × the export, ≤ 64 MiB).
#
# Usage: bench/overview.sh        (from anywhere; needs curl)
# Knobs: RUNS=5 PROFILE=release|debug (debug: no 25-minute release build, figures labelled so)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-5}"
PROFILE="${PROFILE:-release}"
GROUP="FLEET-LARGE"
LINES=100000
SIM=127.0.0.1:18091
CONSOLE=127.0.0.1:18090
# The overview's own columns (src/overview/mod.rs EXPORT_COLUMNS), in its order.
COLUMNS="MDN,STATUS,FILTER_GROUP,NETWORK,DEVICE_NAME,LAST_30_DAYS_USED,MONTHLY_AMOUNT_USED,MONTHLY_LIMIT,NICKNAME"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

build_console
require_free_ports 18090 18091

start_tmp sentinel-overview-bench
start_sim_and_console "$SIM" "$CONSOLE" "$LINES"
demo_sign_in "$SIM" "$CONSOLE" tech

OVERVIEW="http://$CONSOLE/devices/$GROUP/overview?refresh=1"
EXPORT_SIM="http://$SIM/sentinel/api/v1.0/devices/$GROUP?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=$COLUMNS&export=CSV"
EXPORT_CONSOLE="http://$CONSOLE/devices/$GROUP/export.csv?columns=$COLUMNS"

say "checking the overview counts every line"
curl -sf -H "Cookie: $COOKIE" "$OVERVIEW" -o "$TMP/overview.html" || die "overview failed"
grep -q "<strong id=\"overview-total\">100,000</strong>" "$TMP/overview.html" || die "overview does not count $LINES lines"
EXPORT_BYTES=$(curl -sf -H "Authorization: Bearer $TOKEN" "$EXPORT_SIM" | wc -c)

mean_ms() { # header, url, runs: mean time_total in ms (one warm-up first)
    curl -sf -o /dev/null -H "$1" "$2" || die "$2 failed"
    local total=0 t
    for _ in $(seq "$3"); do
        t=$(curl -sf -o /dev/null -w '%{time_total}' -H "$1" "$2") || die "$2 failed"
        total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
    done
    awk -v a="$total" -v n="$3" 'BEGIN { printf "%.1f", a / n * 1000 }'
}

say "export stream straight from the simulator ($RUNS runs)"
DIRECT_MS=$(mean_ms "Authorization: Bearer $TOKEN" "$EXPORT_SIM" "$RUNS")
say "export through the console ($RUNS runs)"
CEXPORT_MS=$(mean_ms "Cookie: $COOKIE" "$EXPORT_CONSOLE" "$RUNS")
# The overview's peak alone: reset VmHWM (Linux: "5" > clear_refs).
echo 5 >"/proc/$CPID/clear_refs" 2>/dev/null || say "cannot reset VmHWM"
say "overview computed afresh ($RUNS runs)"
OVERVIEW_MS=$(mean_ms "Cookie: $COOKIE" "$OVERVIEW" "$RUNS")
PEAK_KIB=$(rss_kib "$CPID" VmHWM)

say "the largest figure's selection page and CSV"
SEL="http://$CONSOLE/devices/$GROUP/overview/lines?figure=status&value=active"
SEL_BYTES=$(curl -sf -H "Cookie: $COOKIE" "$SEL" | wc -c)
SEL_MS=$(mean_ms "Cookie: $COOKIE" "$SEL" 3)
CSV="http://$CONSOLE/devices/$GROUP/overview/lines.csv?figure=status&value=active"
CSV_ROWS=$(( $(curl -sf -H "Cookie: $COOKIE" "$CSV" | wc -l) - 1 ))
CSV_MS=$(mean_ms "Cookie: $COOKIE" "$CSV" 3)
PEAK_ALL_KIB=$(rss_kib "$CPID" VmHWM)

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi; }
R_DIRECT=$(ratio "$OVERVIEW_MS" "$DIRECT_MS")
R_CONSOLE=$(ratio "$OVERVIEW_MS" "$CEXPORT_MS")
PEAK_MIB=$(mib "$PEAK_KIB")

cat <<EOF

## Overview benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $PROFILE build, mean of $RUNS)

$GROUP: $LINES lines; the export of the overview's 9 columns is $(mib $((EXPORT_BYTES / 1024))) MiB.

| measurement | ms | ratio | target | |
| --- | ---: | ---: | --- | --- |
| export stream, curl straight from the simulator | $DIRECT_MS | | | |
| export stream through the console (\`export.csv\`) | $CEXPORT_MS | | | |
| overview computed afresh (\`?refresh=1\`) | $OVERVIEW_MS | $R_DIRECT × the direct stream | ≤ 1.5 | $(verdict "$R_DIRECT <= 1.5") |
| | | $R_CONSOLE × the console's export | | |
| selection page of status=active ($(mib $((SEL_BYTES / 1024))) MiB, first 50,000 MDNs), mean of 3 | $SEL_MS | | | |
| CSV of status=active ($CSV_ROWS rows), mean of 3 | $CSV_MS | | | |

| measurement | MiB | target | |
| --- | ---: | --- | --- |
| console peak RSS while computing the overview | $PEAK_MIB | ≤ 64 | $(verdict "$PEAK_MIB <= 64") |
| console peak RSS including the selection page and CSV | $(mib "$PEAK_ALL_KIB") | | |
EOF
