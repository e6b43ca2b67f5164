# Shared by the bench scripts (sourced, not run): messages, free ports, a temp dir whose
# background processes are stopped on exit, waiting for an HTTP server to answer, the release
# build, a simulator with a console beside it, the demo sign-in with curl, and RSS readings.

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

# require_free_ports PORT...: refuse to start over something already listening.
require_free_ports() {
    local port
    for port in "$@"; do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            die "port $port is already in use; stop whatever listens there first"
        fi
    done
}

# start_tmp NAME: sets TMP and PIDS; every PID pushed to PIDS is stopped, and TMP removed, on exit.
start_tmp() {
    TMP="$(mktemp -d -t "$1.XXXXXX")"
    PIDS=()
    trap bench_cleanup EXIT
}
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}

wait_http() { # url, seconds
    local deadline=$((SECONDS + $2))
    until curl -s -o /dev/null "$1"; do
        [ "$SECONDS" -lt "$deadline" ] || die "$1 did not answer"
        sleep 0.05
    done
}

# build_console: builds $PROFILE (release or debug) and sets BIN to the binary (BIN given: no build).
build_console() {
    if [ -n "${BIN:-}" ]; then
        # A binary given (e.g. an earlier build kept for comparison): no build.
        [ -x "$BIN" ] || die "no binary at $BIN"
        say "using $BIN (no build)"
        return
    fi
    say "cargo build ($PROFILE)"
    if [ "$PROFILE" = release ]; then
        (cd "$ROOT" && cargo build --release --quiet)
    else
        (cd "$ROOT" && cargo build --quiet)
    fi
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/sentinel-console"
    [ -x "$BIN" ] || die "no binary at $BIN"
}

# start_sim_and_console SIM CONSOLE LINES: the simulator alone (LINES in the large group) and a
# console pointed at it (SQLite in TMP); sets CPID and waits until the console is ready.
start_sim_and_console() {
    say "simulator on $1 ($3 lines in the large group)"
    "$BIN" simulate --bind "$1" --large-group "$3" >"$TMP/sim.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://$1/" 30
    say "console on $2"
    env BIND_ADDR="$2" \
        SENTINEL_API_URL="http://$1/sentinel/api" \
        OAUTH_AUTHORIZE_URL="http://$1/oauth/authorize" \
        OAUTH_TOKEN_URL="http://$1/oauth/token" \
        OAUTH_REVOKE_URL="http://$1/oauth/revoke" \
        OAUTH_CLIENT_ID="sentinel-console" \
        DATABASE_URL="sqlite://$TMP/console.db?mode=rwc" \
        RUST_LOG=warn \
        "$BIN" serve >"$TMP/console.log" 2>&1 &
    CPID=$!
    PIDS+=("$CPID")
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$2/readyz")" = "200" ]; do
        kill -0 "$CPID" 2>/dev/null || { cat "$TMP/console.log" >&2; die "console exited"; }
        sleep 0.02
    done
}

# rss_kib PID FIELD: a /proc status figure (VmRSS, VmHWM) in KiB.
rss_kib() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

# demo_sign_in SIM CONSOLE USER: the browser's steps through the demo sign-in with curl; sets
# COOKIE (the console's session) and TOKEN (a bearer token straight from the simulator).
demo_sign_in() {
    say "signing in as $3"
    local jar="$TMP/cookies.txt" authz callback
    loc() { awk 'tolower($1) == "location:" { sub(/\r$/, "", $2); print $2 }' "$1"; }
    curl -s -o /dev/null -D "$TMP/h1" -c "$jar" -b "$jar" "http://$2/login?next=/"
    authz="$(loc "$TMP/h1")"
    [ -n "$authz" ] || die "GET /login did not redirect"
    case "$authz" in http*) ;; *) authz="http://$2$authz" ;; esac
    curl -s -o /dev/null -b "$jar" -c "$jar" "$authz"
    curl -s -o /dev/null -D "$TMP/h2" -b "$jar" -c "$jar" --data "${authz#*\?}&user=$3" "${authz%%\?*}"
    callback="$(loc "$TMP/h2")"
    [ -n "$callback" ] || die "the demo sign-in did not redirect back"
    curl -s -o /dev/null -b "$jar" -c "$jar" "$callback"
    COOKIE="$(awk -F'\t' 'NF >= 7 && ($1 ~ /^#HttpOnly_/ || $1 !~ /^#/) { c = c (c ? "; " : "") $6 "=" $7 } END { print c }' "$jar")"
    [ -n "$COOKIE" ] || die "no session cookie"
    TOKEN="$(curl -s -H 'Content-Type: application/json' -d "{\"username\":\"$3\",\"password\":\"demo\"}" \
        "http://$1/sentinel/api/v1.0/auth/token" | sed -n 's/.*"token" *: *"\([^"]*\)".*/\1/p')"
    [ -n "$TOKEN" ] || die "no token from the simulator"
}
