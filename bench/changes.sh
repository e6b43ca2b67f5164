#!/usr/bin/env bash
# Benchmarks of change sets (issue 8), on SQLite and on PostgreSQL:
#   (a) select-all over the 100,000 lines of FLEET-LARGE (a note; every line's value before read
#       from the export stream and stored): from the console's POST to the change set's final
#       state (its own finished_at, so the polling is not timed) vs the simulator's own bulk call for the same change plus one
#       export stream of the group (the columns the console reads), both timed with curl, each
#       side warmed up and then the median of ROUNDS; the console's peak RSS (VmHWM, reset
#       before each round, the highest);
#   (b) a 50,000-line explicit list in the POST body: lines per second through the console (POST
#       to the change set's finished_at) vs the same 100 chunks PUT straight to the simulator,
#       4 at a time like the console;
#   (c) the fault soak: SOAK_SETS change sets of SOAK_LINES lines posted at once, one in ten
#       devices-API requests faulted (500, a timeout, a connection cut half-way through the
#       answer); on PostgreSQL through two console instances, one killed with kill -9 mid-run.
#       Checks: every change set in a final state, per-line outcomes = lines per change set, no
#       line received twice by the simulator for one change set (its request log), every line
#       recorded as changed received exactly once.
# Prints a markdown table per backend.
#
# Usage: bench/changes.sh   (from anywhere; needs curl, python3, sqlite3, psql/createdb for PostgreSQL)
# Knobs: BACKENDS="sqlite postgres" PROFILE=release|debug SOAK_SETS=200 SOAK_LINES=1000 ROUNDS=3
#        LINES=100000 (the large group) LIST_LINES=50000 CONSOLE_LOG=warn (RUST_LOG of the consoles)
#        KEEP_LOGS=<dir> (copies the consoles' and simulator's logs there)
#        PG="-h 127.0.0.1 -U postgres" (PostgreSQL client options; trust auth)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BACKENDS="${BACKENDS:-sqlite postgres}"
PROFILE="${PROFILE:-release}"
SOAK_SETS="${SOAK_SETS:-200}"
SOAK_LINES="${SOAK_LINES:-1000}"
ROUNDS="${ROUNDS:-3}"
PG="${PG:--h 127.0.0.1 -U postgres}"
GROUP="FLEET-LARGE"
LINES="${LINES:-100000}"
LIST_LINES="${LIST_LINES:-50000}"
SIM=127.0.0.1:18100
A=127.0.0.1:18101
B=127.0.0.1:18102

# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

build_console
require_free_ports 18100 18101 18102
start_tmp sentinel-changes-bench
KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')"
PGDBS=()
drop_pg() { for d in "${PGDBS[@]}"; do dropdb $PG --if-exists "$d" 2>/dev/null || true; done; }
trap 'bench_cleanup; drop_pg' EXIT

ms() { date +%s%3N; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
verdict() { if awk "BEGIN { exit !($1) }"; then echo "met"; else echo "**missed**"; fi; }

start_sim() {
    "$BIN" simulate --bind "$SIM" --large-group "$LINES" >"$TMP/sim-$1.log" 2>&1 &
    SIM_PID=$!
    PIDS+=("$SIM_PID")
    wait_http "http://$SIM/" 60
}

# start_console ADDR DATABASE_URL LOG [extra env...]: sets CPID.
start_console() {
    local addr=$1 db=$2 log=$3
    shift 3
    env BIND_ADDR="$addr" PUBLIC_URL="http://$addr" \
        SENTINEL_API_URL="http://$SIM/sentinel/api" \
        OAUTH_AUTHORIZE_URL="http://$SIM/oauth/authorize" \
        OAUTH_TOKEN_URL="http://$SIM/oauth/token" \
        OAUTH_REVOKE_URL="http://$SIM/oauth/revoke" \
        OAUTH_CLIENT_ID="sentinel-console" \
        DATABASE_URL="$db" DATA_DIR="$TMP/data" TOKEN_ENCRYPTION_KEY="$KEY" \
        RUST_LOG="${CONSOLE_LOG:-warn}" "$@" "$BIN" serve >"$log" 2>&1 &
    CPID=$!
    PIDS+=("$CPID")
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$addr/readyz")" = "200" ]; do
        kill -0 "$CPID" 2>/dev/null || { cat "$log" >&2; die "console exited"; }
        sleep 0.05
    done
}

# sign_in ADDR JAR: signs the cookie jar in as "super" through the demo IdP; prints the CSRF token.
loc() { awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }' "$1"; }
sign_in() {
    local addr=$1 jar=$2 authz callback
    curl -s -o /dev/null -D "$jar.h1" -c "$jar" -b "$jar" "http://$addr/login?next=/"
    authz="$(loc "$jar.h1")"
    [ -n "$authz" ] || die "GET /login did not redirect"
    case "$authz" in http*) ;; *) authz="http://$addr$authz" ;; esac
    curl -s -o /dev/null -b "$jar" -c "$jar" "$authz"
    curl -s -o /dev/null -D "$jar.h2" -b "$jar" -c "$jar" --data "${authz#*\?}&user=super" "${authz%%\?*}"
    callback="$(loc "$jar.h2")"
    [ -n "$callback" ] || die "the demo sign-in did not redirect back"
    curl -s -o /dev/null -b "$jar" -c "$jar" "$callback"
    curl -s -b "$jar" -c "$jar" "http://$addr/devices/$GROUP?limit=1" |
        sed -n 's/.*name="csrf-token" content="\([^"]*\)".*/\1/p' | head -n1
}

# sql QUERY: CSV rows from the backend's database (BACKEND, DBFILE, PGDB).
sql() {
    if [ "$BACKEND" = sqlite ]; then
        sqlite3 -csv "$DBFILE" "$1"
    else
        psql $PG -d "$PGDB" -At -c "COPY ($1) TO STDOUT WITH CSV"
    fi
}

# wait_final ID SECONDS: until the change set is in a final state.
wait_final() {
    local deadline=$((SECONDS + $2)) st
    while :; do
        st="$(sql "SELECT state FROM change_sets WHERE id = '$1'")"
        case "$st" in done | done_with_failures | failed) return 0 ;; esac
        [ "$SECONDS" -lt "$deadline" ] || die "change set $1 still $st after $2 s"
        sleep 0.01
    done
}

# finished_ms ID: when the console finished change set ID (its own `finished_at`, ms since the
# epoch): the end of a timing, so that how often wait_final polls is not part of it.
finished_ms() {
    local at
    at="$(sql "SELECT finished_at FROM change_sets WHERE id = '$1'")"
    [ -n "$at" ] || die "change set $1 has no finished_at"
    date -u -d "$at" +%s%3N
}

change_id() { sed -n 's/.*\/changes\/\([0-9a-f-]*\).*/\1/p' <<<"$1"; }

REPORT="$TMP/report.md"
: >"$REPORT"

run_backend() {
    BACKEND=$1
    say "== $BACKEND =="
    mkdir -p "$TMP/data"
    if [ "$BACKEND" = sqlite ]; then
        DBFILE="$TMP/console-$$.db"
        rm -f "$DBFILE"*
        DB_URL="sqlite://$DBFILE?mode=rwc"
    else
        PGDB="bench_changes_$$"
        PGDBS+=("$PGDB")
        dropdb $PG --if-exists "$PGDB"
        createdb $PG "$PGDB"
        DB_URL="postgres://postgres@127.0.0.1:5432/$PGDB"
    fi
    start_sim "$BACKEND"
    start_console "$A" "$DB_URL" "$TMP/console-$BACKEND.log"
    local apid=$CPID
    local jar="$TMP/jar-$BACKEND"
    local csrf
    csrf="$(sign_in "$A" "$jar")"
    [ -n "$csrf" ] || die "no CSRF token after sign-in"
    local token
    token="$(curl -s -H 'Content-Type: application/json' -d '{"username":"super","password":"demo"}' \
        "http://$SIM/sentinel/api/v1.0/auth/token" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')"
    [ -n "$token" ] || die "no token from the simulator"
    local api="http://$SIM/sentinel/api/v1.0/devices/$GROUP"
    local export_url="$api?offset=0&limit=25&sort=MDN&sortDir=ASC&columns=MDN,NOTE&export=CSV"

    # ---- (a) select-all over 100,000 lines ----------------------------------------------
    # ROUNDS of each side, the median reported; each side warmed up first (the simulator's first
    # write over a group is about twice as slow as the next ones, and the console's first
    # select-all pays for its caches).
    say "(a) select-all over $LINES lines: straight to the simulator ($ROUNDS rounds)"
    local direct_put=(-X PUT -H "Authorization: Bearer $token" -H 'Content-Type: application/json')
    curl -sf -o /dev/null -H "Authorization: Bearer $token" "$export_url" # warm-up
    curl -sf -o /dev/null "${direct_put[@]}" -d '{"bulkSelection":{"selectAll":true},"note":"bench warm-up"}' "$api/note"
    local exports=() bulks=() r
    for r in $(seq 1 "$ROUNDS"); do
        exports+=("$(curl -sf -o "$TMP/all.csv" -w '%{time_total}' -H "Authorization: Bearer $token" "$export_url")")
        bulks+=("$(curl -sf -o /dev/null -w '%{time_total}' "${direct_put[@]}" \
            -d "{\"bulkSelection\":{\"selectAll\":true},\"note\":\"bench direct $r\"}" "$api/note")")
    done
    [ "$(($(wc -l <"$TMP/all.csv") - 1))" -eq "$LINES" ] || die "the export is not $LINES lines"
    local t_export t_bulk
    t_export=$(median "${exports[@]}")
    t_bulk=$(median "${bulks[@]}")
    say "(a) select-all through the console ($ROUNDS rounds after a warm-up)"
    local out id consoles=() peak=0 hwm counts befores previous="bench direct $ROUNDS"
    for r in $(seq 0 "$ROUNDS"); do
        echo 5 >"/proc/$apid/clear_refs" 2>/dev/null || say "cannot reset VmHWM"
        # The POST answers 303 as soon as the change set and its job are stored (a select-all runs
        # as a durable job): timed from the POST to the change set's finished_at, read from the
        # database once wait_final has seen the final state.
        local started finished
        started=$(ms)
        out=$(curl -s -o /dev/null -w '%{redirect_url}' -b "$jar" \
            --data "select_all=true&note=bench+console+$r&confirmed=true&acknowledged=true&csrf_token=$csrf" \
            "http://$A/devices/$GROUP/actions/note")
        id="$(change_id "$out")"
        [ -n "$id" ] || die "the select-all change did not answer 303 to its change set: $out"
        wait_final "$id" 600
        finished=$(finished_ms "$id")
        out="$(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.3f", (b - a) / 1000 }')"
        hwm=$(rss_kib "$apid" VmHWM)
        [ "$hwm" -gt "$peak" ] && peak=$hwm
        counts="$(sql "SELECT state, total_lines, changed, failed, unknown FROM change_sets WHERE id = '$id'")"
        # Through the console's own lines.csv (a select-all's lines are stored in blocks).
        befores="$(curl -sf -b "$jar" "http://$A/changes/$id/lines.csv" |
            awk -F, -v p="$previous" 'NR > 1 && $2 == p && $4 == "changed"' | wc -l)"
        [ "$counts" = "done,$LINES,$LINES,0,0" ] || die "select-all change set: $counts"
        [ "$befores" = "$LINES" ] || die "only $befores lines have their value before ($previous)"
        previous="bench console $r"
        [ "$r" -gt 0 ] && consoles+=("${out%% *}")
    done
    local t_console
    t_console=$(median "${consoles[@]}")

    # ---- (b) 50,000-line explicit list -----------------------------------------------------
    say "(b) $LIST_LINES-line explicit list"
    awk -F, -v n="$LIST_LINES" 'NR > 1 && NR <= n + 1 { sub(/\r$/, "", $1); print $1 }' "$TMP/all.csv" >"$TMP/list.txt"
    python3 - "$TMP/list.txt" "$csrf" "$TMP" <<'PY'
import json, sys, urllib.parse
mdns = open(sys.argv[1]).read().split()
pairs = [("mdns", m) for m in mdns] + [("note", "bench list console"), ("confirmed", "true"),
         ("acknowledged", "true"), ("csrf_token", sys.argv[2])]
open(sys.argv[3] + "/list.form", "w").write(urllib.parse.urlencode(pairs))
for i in range(0, len(mdns), 500):
    open(f"{sys.argv[3]}/chunk-{i // 500:04d}.json", "w").write(
        json.dumps({"mdns": mdns[i:i + 500], "note": "bench list direct"}))
PY
    local t0 t1 t_list t_direct
    t0=$(ms)
    out=$(curl -s -o /dev/null -w '%{redirect_url} %{time_total}' -b "$jar" --data-binary @"$TMP/list.form" \
        -H 'Content-Type: application/x-www-form-urlencoded' "http://$A/devices/$GROUP/actions/note")
    local t_post
    t_post=$(awk -v a="${out##* }" 'BEGIN { printf "%.0f", a * 1000 }')
    id="$(change_id "${out% *}")"
    [ -n "$id" ] || die "the list change did not answer 303: $out"
    wait_final "$id" 600
    t1=$(finished_ms "$id")
    t_list=$((t1 - t0))
    local list_counts
    list_counts="$(sql "SELECT state, total_lines, changed FROM change_sets WHERE id = '$id'")"
    if [ "$list_counts" != "done,$LIST_LINES,$LIST_LINES" ]; then
        say "list change set: $list_counts (state,lines,changed); why the others:"
        sql "SELECT outcome, message, COUNT(*) FROM change_lines WHERE change_id = '$id' AND outcome <> 'changed' GROUP BY outcome, message" >&2
    fi
    local list_befores
    list_befores="$(sql "SELECT COUNT(*) FROM change_lines WHERE change_id = '$id' AND before_value = '$previous'")"
    t0=$(ms)
    ls "$TMP"/chunk-*.json | xargs -P 4 -I{} curl -sf -o /dev/null -X PUT \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' --data-binary @{} "$api/note"
    t1=$(ms)
    t_direct=$((t1 - t0))
    rm -f "$TMP"/chunk-*.json "$TMP/list.form"

    # ---- (c) the fault soak ------------------------------------------------------------------
    say "(c) fault soak: $SOAK_SETS change sets of $SOAK_LINES lines, 10 % faults"
    kill "$apid"
    wait "$apid" 2>/dev/null || true
    local soak_env=(UPSTREAM_TIMEOUT_SECS=5)
    start_console "$A" "$DB_URL" "$TMP/soak-a-$BACKEND.log" "${soak_env[@]}"
    apid=$CPID
    local bpid="" second="$A"
    if [ "$BACKEND" = postgres ]; then
        start_console "$B" "$DB_URL" "$TMP/soak-b-$BACKEND.log" "${soak_env[@]}"
        bpid=$CPID
        second="$B"
    fi
    # The write rate limit is 30 a minute per session: one session per 25 change sets.
    local sessions=$(((SOAK_SETS + 24) / 25)) s
    for s in $(seq 0 $((sessions - 1))); do
        sign_in "$A" "$TMP/soak-jar-$s" >"$TMP/soak-csrf-$s"
    done
    python3 - "$TMP" "$SOAK_SETS" "$SOAK_LINES" "$sessions" <<'PY'
import sys, urllib.parse
tmp, sets, lines, sessions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
mdns = [l.split(",")[0].strip() for l in open(tmp + "/all.csv").read().splitlines()[1:]]
with open(tmp + "/soak.jobs", "w") as jobs:
    for k in range(sets):
        s = k % sessions
        csrf = open(f"{tmp}/soak-csrf-{s}").read().strip()
        start = (k * 500) % (len(mdns) - lines)
        pairs = [("mdns", m) for m in mdns[start:start + lines]] + [
            ("note", f"soak-{k}"), ("confirmed", "true"), ("acknowledged", "true"), ("csrf_token", csrf)]
        open(f"{tmp}/soak-{k}.form", "w").write(urllib.parse.urlencode(pairs))
        jobs.write(f"{k} {s}\n")
PY
    curl -sf -X DELETE "http://$SIM/_sim/requests"
    local f
    for f in '{"kind":{"one_in":{"every":30,"phase":0,"then":{"status":500}}},"path_contains":"/devices/"}' \
        '{"kind":{"one_in":{"every":30,"phase":10,"then":{"latency":6000}}},"path_contains":"/devices/"}' \
        '{"kind":{"one_in":{"every":30,"phase":20,"then":"cut_answer"}},"path_contains":"/devices/"}'; do
        curl -sf -X POST -H 'Content-Type: application/json' -d "$f" "http://$SIM/_sim/faults"
    done
    export TMP A GROUP second
    t0=$(ms)
    # Even change sets through A, odd ones through the other instance (A itself on SQLite).
    xargs -P 16 -L 1 sh -c 'addr=$A; [ $(($0 % 2)) -eq 1 ] && addr=$second;
        curl -s -o /dev/null -w "%{http_code} %{redirect_url}\n" -b "$TMP/soak-jar-$1" \
          -H "Content-Type: application/x-www-form-urlencoded" --data-binary @"$TMP/soak-$0.form" \
          "http://$addr/devices/$GROUP/actions/note"' <"$TMP/soak.jobs" >"$TMP/soak.posted"
    local posted_ok
    posted_ok=$(grep -c '^303 ' "$TMP/soak.posted" || true)
    local post_codes
    post_codes="$(cut -d' ' -f1 "$TMP/soak.posted" | sort | uniq -c | awk '{ printf "%s%s × %s", (NR > 1 ? ", " : ""), $1, $2 }')"
    [ "$posted_ok" -eq "$SOAK_SETS" ] || say "only $posted_ok of $SOAK_SETS soak changes answered 303 ($post_codes)"
    local killed="no"
    if [ -n "$bpid" ]; then
        sleep 0.5
        say "kill -9 the instance on $A"
        { kill -9 "$apid" && wait "$apid"; } 2>/dev/null || true
        killed="yes (kill -9 of one of two instances, 0.5 s after the last POST)"
    fi
    local deadline=$((SECONDS + 300)) open_sets
    while :; do
        open_sets="$(sql "SELECT COUNT(*) FROM change_sets WHERE state NOT IN ('done', 'done_with_failures', 'failed')")"
        [ "$open_sets" = 0 ] && break
        [ "$SECONDS" -lt "$deadline" ] || die "$open_sets change sets never finished"
        sleep 0.25
    done
    t1=$(ms)
    local t_soak=$((t1 - t0))
    curl -sf -X DELETE "http://$SIM/_sim/faults"
    curl -sf "http://$SIM/_sim/requests" >"$TMP/requests.json"
    sql "SELECT id, fields, state, total_lines, changed, failed, unknown FROM change_sets WHERE fields LIKE '%soak-%'" >"$TMP/sets.csv"
    sql "SELECT l.change_id, l.mdn, l.outcome FROM change_lines l JOIN change_sets c ON c.id = l.change_id WHERE c.fields LIKE '%soak-%'" >"$TMP/lines.csv"
    local soak
    soak="$(python3 - "$TMP" "$posted_ok" "$SOAK_LINES" <<'PY'
import collections, csv, json, sys
tmp, sets, lines = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
reqs = json.load(open(tmp + "/requests.json"))
api = [r for r in reqs if r["path"].startswith("/sentinel/api/")]
writes = [r for r in api if r["method"] == "PUT" and r["path"].endswith("/note")]
sent = collections.Counter()
for w in writes:
    b = json.loads(w["body"])
    for m in b["mdns"]:
        sent[(b["note"], m)] += 1
note_of, problems, totals = {}, [], collections.Counter()
final = {"done", "done_with_failures", "failed"}
for cid, fields, state, total, ch, fa, un in csv.reader(open(tmp + "/sets.csv")):
    note_of[cid] = json.loads(fields)["note"]
    total, ch, fa, un = int(total), int(ch), int(fa), int(un)
    if state not in final: problems.append(f"{cid} {state}")
    if total != lines or ch + fa + un != total: problems.append(f"{cid}: {total} lines, {ch}+{fa}+{un}")
    totals["changed"] += ch; totals["failed"] += fa; totals["unknown"] += un
per_set = collections.defaultdict(collections.Counter)
lost = 0
changed_not_received = 0
for cid, mdn, outcome in csv.reader(open(tmp + "/lines.csv")):
    per_set[cid][outcome] += 1
    if outcome == "changed" and sent[(note_of[cid], mdn)] != 1: changed_not_received += 1
for cid, c in per_set.items():
    if sum(c.values()) != lines or c["pending"]: lost += 1
twice = sum(1 for n in sent.values() if n > 1)
if len(note_of) != sets: problems.append(f"{len(note_of)} change sets stored, {sets} accepted (303)")
ok = not problems and lost == 0 and twice == 0 and changed_not_received == 0
print(f"{len(note_of)} {totals['changed']} {totals['failed']} {totals['unknown']} {lost} {twice} "
      f"{changed_not_received} {len(writes)} {len(api)} {'ok' if ok else 'FAILED'}")
for p in problems[:5]: print(p, file=sys.stderr)
PY
)"
    local n_sets s_changed s_failed s_unknown s_lost s_twice s_phantom n_writes n_api s_ok
    read -r n_sets s_changed s_failed s_unknown s_lost s_twice s_phantom n_writes n_api s_ok <<<"$soak"

    [ -z "${KEEP_LOGS:-}" ] || { mkdir -p "$KEEP_LOGS" && cp "$TMP"/*.log "$TMP/soak.posted" "$KEEP_LOGS/"; }
    kill "$SIM_PID" 2>/dev/null || true
    [ -n "$bpid" ] && kill "$bpid" 2>/dev/null || true
    kill "$apid" 2>/dev/null || true
    wait 2>/dev/null || true

    local direct_ms console_ms r_all list_rate direct_rate
    direct_ms=$(awk -v a="$t_export" -v b="$t_bulk" 'BEGIN { printf "%.0f", (a + b) * 1000 }')
    console_ms=$(awk -v a="$t_console" 'BEGIN { printf "%.0f", a * 1000 }')
    r_all=$(ratio "$console_ms" "$direct_ms")
    list_rate=$(awk -v t="$t_list" -v n="$LIST_LINES" 'BEGIN { printf "%.0f", n / (t / 1000) }')
    direct_rate=$(awk -v t="$t_direct" -v n="$LIST_LINES" 'BEGIN { printf "%.0f", n / (t / 1000) }')
    cat >>"$REPORT" <<EOF

### $BACKEND ($(date -u +%Y-%m-%d), $(nproc) cores, $PROFILE build)

| measurement | console | straight to the simulator | ratio | target | |
| --- | ---: | ---: | ---: | --- | --- |
| select-all, $LINES lines, before-values captured (ms, median of $ROUNDS) | $console_ms | $direct_ms (bulk call $(awk -v a="$t_bulk" 'BEGIN { printf "%.0f", a * 1000 }') + export $(awk -v a="$t_export" 'BEGIN { printf "%.0f", a * 1000 }')) | $r_all | ≤ 1.5 | $(verdict "$r_all <= 1.5") |
| console peak RSS during the select-all (MiB) | $(mib "$peak") | | | ≤ 64 | $(verdict "$(mib "$peak") <= 64") |
| $LIST_LINES-line explicit list (lines/s; state,lines,changed = $list_counts; $list_befores with their value before; the POST answered 303 after $t_post ms) | $list_rate ($t_list ms) | $direct_rate ($t_direct ms, $(((LIST_LINES + 499) / 500)) PUTs, 4 at a time) | $(ratio "$list_rate" "$direct_rate") | | |

Fault soak: $SOAK_SETS change sets × $SOAK_LINES lines posted at once (answers: $post_codes; $n_sets stored) ($t_soak ms to the last final
state), 1 in 10 of the $n_api devices-API requests faulted (500, 6 s delay against the console's 5 s timeout,
connection cut half-way through the answer); instance killed: $killed.

| check | result |
| --- | --- |
| lines changed / failed / unknown | $s_changed / $s_failed / $s_unknown |
| change sets whose line outcomes ≠ their lines (lost or double-counted) | $s_lost |
| lines received twice by the simulator for one change set | $s_twice |
| lines recorded as changed but not received exactly once | $s_phantom |
| writes received by the simulator | $n_writes |
| every change set in a final state, all checks | $s_ok |
EOF
    [ "$s_ok" = ok ] || say "soak checks FAILED on $BACKEND"
}

for backend in $BACKENDS; do
    run_backend "$backend"
done
cat "$REPORT"
