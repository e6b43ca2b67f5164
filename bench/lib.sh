# Shared by the bench scripts (sourced, not run): messages, free ports, a temp dir whose
# background processes are stopped on exit, and waiting for an HTTP server to answer.

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
