#!/usr/bin/env bash
# Benchmark of the CSV import's preview (issue 11) on the 100,000-line group FLEET-LARGE:
#   (a) a 50,000-row file (the group's export of the import columns, first ROWS rows, every
#       10th nickname edited) uploaded and previewed (parse, one streamed export of the group,
#       diff, plan stored), mean wall time of RUNS (curl's time_total);
#   (b) vs one export stream of the group with the same columns: curl straight from the
#       simulator, and the console's own export.csv;
#   (c) the console's peak RSS (VmHWM, reset before the previews) while previewing.
# Prints a markdown table with the targets of issue 11 (≤ 2 × the export stream, ≤ 64 MiB).
#
# Usage: bench/import.sh        (from anywhere; needs curl and python3)
# Knobs: RUNS=5 ROWS=50000 PROFILE=release|debug; CARGO_TARGET_DIR is honoured.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
RUNS="${RUNS:-5}"
ROWS="${ROWS:-50000}"
PROFILE="${PROFILE:-release}"
GROUP="FLEET-LARGE"
LINES=100000
SIM=127.0.0.1:18095
CONSOLE=127.0.0.1:18094
# The import's columns (src/policy.rs IMPORT_COLUMNS) after MDN.
COLUMNS="MDN,NICKNAME,NOTE,FILTER_GROUP,MDN_CUSTOM_FIELD,STATUS,MONTHLY_LIMIT,DAILY_LIMIT"

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
command -v python3 >/dev/null || die "python3 is needed to edit the file"

build_console
require_free_ports 18094 18095

start_tmp sentinel-import-bench
start_sim_and_console "$SIM" "$CONSOLE" "$LINES"
demo_sign_in "$SIM" "$CONSOLE" tech
CSRF="$(curl -sf -H "Cookie: $COOKIE" "http://$CONSOLE/devices/$GROUP/import" |
    sed -n 's/.*<meta name="csrf-token" content="\([^"]*\)".*/\1/p')"
[ -n "$CSRF" ] || die "no CSRF token on the import page"

EXPORT_SIM="http://$SIM/sentinel/api/v1.0/devices/$GROUP?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=$COLUMNS&export=CSV"
EXPORT_CONSOLE="http://$CONSOLE/devices/$GROUP/export.csv?columns=$COLUMNS"
IMPORT="http://$CONSOLE/devices/$GROUP/import?csrf_token=$CSRF"

say "the file: the console's export, first $ROWS rows, every 10th nickname edited"
curl -sf -H "Cookie: $COOKIE" "$EXPORT_CONSOLE" -o "$TMP/export.csv" || die "export failed"
python3 - "$TMP/export.csv" "$TMP/import.csv" "$ROWS" <<'PY'
import csv, sys
src, dst, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, newline="", encoding="utf-8") as f, open(dst, "w", newline="", encoding="utf-8") as out:
    r, w = csv.reader(f), csv.writer(out, lineterminator="\r\n")
    header = next(r)
    nick = header.index("NICKNAME")
    w.writerow(header)
    for i, rec in enumerate(r):
        if i >= rows:
            break
        if i % 10 == 0:
            rec[nick] = f"Moved {i}"
        w.writerow(rec)
PY
FILE_BYTES=$(wc -c <"$TMP/import.csv")
WANT=$(( (ROWS + 9) / 10 ))

preview() { curl -sf -o "$TMP/preview.html" -w '%{time_total}' -H "Cookie: $COOKIE" -F "file=@$TMP/import.csv;type=text/csv" "$IMPORT"; }
say "checking the preview finds the $WANT edited lines"
preview >/dev/null || die "preview failed: $(tail -5 "$TMP/console.log")"
grep -q "id=\"import-lines\">$WANT<" "$TMP/preview.html" || die "the preview does not count $WANT lines"
grep -q 'id="import-refused-total">0<' "$TMP/preview.html" || die "the preview refused rows"

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
# The previews' peak alone: reset VmHWM (Linux: "5" > clear_refs).
echo 5 >"/proc/$CPID/clear_refs" 2>/dev/null || say "cannot reset VmHWM"
say "previews of the $ROWS-row file ($RUNS runs)"
total=0
for _ in $(seq "$RUNS"); do
    t=$(preview) || die "preview failed"
    total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
done
PREVIEW_MS=$(awk -v a="$total" -v n="$RUNS" 'BEGIN { printf "%.1f", a / n * 1000 }')
PEAK_KIB=$(rss_kib "$CPID" VmHWM)

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi; }
R_DIRECT=$(ratio "$PREVIEW_MS" "$DIRECT_MS")
R_CONSOLE=$(ratio "$PREVIEW_MS" "$CEXPORT_MS")
PEAK_MIB=$(mib "$PEAK_KIB")

cat <<EOT

## Import preview benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, $PROFILE build, mean of $RUNS)

$GROUP: $LINES lines. The file: $ROWS rows of the export's $(echo "$COLUMNS" | tr ',' '\n' | wc -l) import columns ($(mib $((FILE_BYTES / 1024))) MiB), $WANT nicknames edited.

| measurement | ms | ratio | target | |
| --- | ---: | ---: | --- | --- |
| export stream of the group, curl straight from the simulator | $DIRECT_MS | | | |
| export stream through the console (\`export.csv\`) | $CEXPORT_MS | | | |
| upload + preview of the $ROWS-row file | $PREVIEW_MS | $R_DIRECT × the direct stream | ≤ 2 | $(verdict "$R_DIRECT <= 2") |
| | | $R_CONSOLE × the console's export | | |

| measurement | MiB | target | |
| --- | ---: | --- | --- |
| console peak RSS while previewing | $PEAK_MIB | ≤ 64 | $(verdict "$PEAK_MIB <= 64") |
EOT
