#!/usr/bin/env bash
# Identity benchmark: cold start and authenticated-request latency of `warden serve`, on both metastores.
#
#   scripts/with-postgres Benchmarks/identity.sh
#
# For each metastore (sqlite in a fresh --data-dir; postgresql in a fresh database on the server in
# WARDEN_TEST_POSTGRES_URL, which scripts/with-postgres provides):
#   1. cold start: COLD_RUNS launches, each with a fresh data dir (and database), timed from launch to the
#      first 200 from GET /health (curl polled every ~5 ms, so resolution is a few ms); the median is shown;
#   2. latency: one server, a 3 s warm-up (1 s per route), then `wrk -t2 -c32 -d15s --latency` against
#      GET /health (the baseline, one metastore round trip, no credentials), and GET /bim/rpc/user/current
#      with a Bearer token and with the raw admin API key. Any non-2xx response fails the run.
# The result is a Markdown table on stdout (progress goes to stderr); nothing is written to the repository.
#
# NOTE: wrk and the server share this machine's cores (2 on the reference machine), so absolute latencies
# and request rates are pessimistic; the ratios against /health measured in the same run are the figures
# to compare between runs and revisions.
#
# Needs: root + apt-get to install wrk if it is missing, swift, curl, python3, psql.
# Tunables (environment): BENCH_COLD_RUNS (5), BENCH_DURATION (15s), BENCH_THREADS (2), BENCH_CONNECTIONS (32).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COLD_RUNS=${BENCH_COLD_RUNS:-5}
DURATION=${BENCH_DURATION:-15s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
ADMIN_KEY=bench-admin-key-0123456789abcdef
SCRATCH=.build-bench
BIN=$SCRATCH/release/warden

log() { printf 'identity.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Only what this script passes may configure the server.
unset WARDEN_HOST WARDEN_PORT WARDEN_DATA_DIR WARDEN_DATABASE_URL WARDEN_LOG_LEVEL WARDEN_MASTER_KEY \
      WARDEN_ADMIN_API_KEY WARDEN_TOKEN_TTL WARDEN_MAX_BODY_SIZE

# --- Prerequisites ----------------------------------------------------------------
[[ -n "${WARDEN_TEST_POSTGRES_URL:-}" ]] ||
    die "WARDEN_TEST_POSTGRES_URL is not set; run this as: scripts/with-postgres $0"
if [[ ! "$WARDEN_TEST_POSTGRES_URL" =~ ^postgres(ql)?://([^:@/]+)(:([^@/]*))?@([^:/]+):([0-9]+)(/.*)?$ ]]; then
    die "cannot parse WARDEN_TEST_POSTGRES_URL ($WARDEN_TEST_POSTGRES_URL); expected postgres://user[:pass]@host:port/db"
fi
pg_user=${BASH_REMATCH[2]}
pg_pass=${BASH_REMATCH[4]}
pg_host=${BASH_REMATCH[5]}
pg_port=${BASH_REMATCH[6]}
pg_auth=$pg_user${pg_pass:+:$pg_pass}

if ! command -v psql >/dev/null 2>&1; then
    if [[ -n "${WARDEN_TEST_POSTGRES_BIN:-}" && -x "$WARDEN_TEST_POSTGRES_BIN/psql" ]]; then
        PATH="$WARDEN_TEST_POSTGRES_BIN:$PATH"
    else
        die "psql not found"
    fi
fi
for tool in curl python3 swift; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
done

if ! command -v wrk >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        die "wrk not found (and cannot apt-get install it: needs root and apt-get)"
    fi
    log "installing wrk with apt-get"
    apt_log=$(mktemp)
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends wrk; }
    if ! apt_install >"$apt_log" 2>&1; then
        log "apt-get install wrk failed; running apt-get update first"
        if ! { apt-get update -qq && apt_install; } >"$apt_log" 2>&1; then
            cat "$apt_log" >&2
            rm -f "$apt_log"
            die "apt-get install wrk failed"
        fi
    fi
    rm -f "$apt_log"
    command -v wrk >/dev/null 2>&1 || die "wrk installed but not on PATH"
fi

# --- Scratch state and cleanup ----------------------------------------------------
work=$(mktemp -d /tmp/warden-bench.XXXXXX)
server_pid=
databases=()

psql_admin() {
    psql "$WARDEN_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 "$@"
}

stop_server() {
    [[ -n "$server_pid" ]] || return 0
    local pid=$server_pid status=0
    server_pid=
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 200); do   # up to 10 s for a graceful shutdown
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "warning: server $pid did not stop within 10 s of SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || status=$?
    if [[ $status -ne 0 && $status -ne 143 ]]; then
        log "warning: server $pid exited with status $status after SIGTERM"
    fi
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_server
    local db
    for db in "${databases[@]}"; do
        psql_admin -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
    done
    rm -rf "$work"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ------------------------------------------------------------------------
log "building warden (release, --scratch-path $SCRATCH)"
swift build -c release --product warden --scratch-path "$SCRATCH" >&2 || die "swift build failed"
[[ -x "$BIN" ]] || die "$BIN not found after the build"

# --- Helpers ----------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

db_seq=0
# Creates a fresh database and prints its WARDEN_DATABASE_URL.
new_database() {
    db_seq=$((db_seq + 1))
    local name="bench_$$_$db_seq"
    psql_admin -c "CREATE DATABASE $name" >/dev/null || die "CREATE DATABASE $name failed"
    databases+=("$name")
    new_db_url="postgres://$pg_auth@$pg_host:$pg_port/$name"
}

run_seq=0
# start_server METASTORE: launches warden in the background on a fresh data dir (and, for postgresql, a
# fresh database). Sets server_pid, port, base, server_log and launch_ns (just before the launch).
start_server() {
    local metastore=$1 dir db_url=
    run_seq=$((run_seq + 1))
    dir="$work/data-$run_seq"
    server_log="$work/server-$run_seq.log"
    mkdir -p "$dir"
    if [[ "$metastore" == postgresql ]]; then
        new_database
        db_url=$new_db_url
    fi
    port=$(free_port)
    base="http://127.0.0.1:$port"
    launch_ns=$(date +%s%N)
    if [[ -n "$db_url" ]]; then
        WARDEN_DATABASE_URL="$db_url" WARDEN_ADMIN_API_KEY="$ADMIN_KEY" WARDEN_LOG_LEVEL=warning \
            "$BIN" serve --port "$port" --data-dir "$dir" >"$server_log" 2>&1 &
    else
        WARDEN_ADMIN_API_KEY="$ADMIN_KEY" WARDEN_LOG_LEVEL=warning \
            "$BIN" serve --port "$port" --data-dir "$dir" >"$server_log" 2>&1 &
    fi
    server_pid=$!
}

# Polls GET /health until it answers 200; sets ready_ns. Fails if the server dies or takes over 60 s.
wait_ready() {
    local code deadline=$(( $(date +%s) + 60 ))
    while :; do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$base/health" 2>/dev/null || true)
        if [[ "$code" == 200 ]]; then ready_ns=$(date +%s%N); return 0; fi
        if ! kill -0 "$server_pid" 2>/dev/null; then
            cat "$server_log" >&2
            server_pid=
            die "the server exited before answering GET /health (its output is above)"
        fi
        if (( $(date +%s) > deadline )); then
            cat "$server_log" >&2
            die "GET /health did not answer 200 within 60 s (last status: $code; server output above)"
        fi
        sleep 0.005
    done
}

# Prints the server's output that is not the normal start-up banner, if any, under a heading.
report_server_log() {
    local what=$1 extra
    extra=$(grep -v -E '^Warden .* listening on ' "$server_log" || true)
    if [[ -n "$extra" ]]; then
        log "server output ($what):"
        printf '%s\n' "$extra" | sed 's/^/    /' >&2
        server_log_notes+=("$what: $(printf '%s\n' "$extra" | wc -l) line(s) of server output at warning level or above")
    fi
}

# Checks one request with curl before loading a route with wrk.
check_route() {
    local path=$1 auth=$2 out code header=()
    out="$work/check.out"
    [[ -z "$auth" ]] || header=(-H "Authorization: $auth")
    code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 "${header[@]}" "$base$path" || true)
    if [[ "$code" != 2?? ]]; then
        log "GET $path answered $code:"
        cat "$out" >&2; echo >&2
        die "GET $path did not answer 2xx before the load test"
    fi
}

# run_wrk LABEL DURATION PATH AUTH: runs wrk, fails on non-2xx responses, sets p50 p99 rps sockerr.
run_wrk() {
    local label=$1 duration=$2 path=$3 auth=$4 out parsed header=()
    out="$work/wrk-$run_seq-${label//[^A-Za-z0-9]/_}.txt"
    [[ -z "$auth" ]] || header=(-H "Authorization: $auth")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --latency "${header[@]}" "$base$path" >"$out" 2>&1 ||
        { cat "$out" >&2; die "wrk failed ($label)"; }
    parsed=$(awk '
        function ms(v) {
            if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
            if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
            if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
            if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
            return v + 0
        }
        /Latency Distribution/ { dist = 1; next }
        dist && $1 == "50%" { p50 = ms($2) }
        dist && $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { sub(/^ *Socket errors: */, ""); gsub(/ /, "_"); sock = $0 }
        END { printf "%s %s %s %s %s\n", (p50 == "" ? "-" : p50), (p99 == "" ? "-" : p99),
                                         (rps == "" ? "-" : rps), (non2xx == "" ? 0 : non2xx), (sock == "" ? "-" : sock) }
    ' "$out")
    read -r p50 p99 rps non2xx sockerr <<<"$parsed"
    if [[ "$p50" == - || "$p99" == - || "$rps" == - ]]; then
        cat "$out" >&2
        die "could not parse wrk output ($label; above)"
    fi
    if [[ "$non2xx" != 0 ]]; then
        cat "$out" >&2
        report_server_log "$label"
        die "$non2xx non-2xx responses from GET $path ($label); wrk output and server output above"
    fi
    if [[ "$sockerr" != - ]]; then
        log "warning: wrk socket errors on $label: ${sockerr//_/ }"
        socket_notes+=("$label: socket errors ${sockerr//_/ }")
    fi
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- Measurements -----------------------------------------------------------------
rows=()
cold_details=()
server_log_notes=()
socket_notes=()

for metastore in sqlite postgresql; do
    # 1. Cold start.
    times=()
    for i in $(seq 1 "$COLD_RUNS"); do
        start_server "$metastore"
        wait_ready
        ms=$(awk -v a="$launch_ns" -v b="$ready_ns" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
        times+=("$ms")
        log "$metastore cold start $i/$COLD_RUNS: $ms ms"
        stop_server
        report_server_log "$metastore cold start $i"
    done
    cold=$(median "${times[@]}")
    cold=$(awk -v v="$cold" 'BEGIN { printf "%.1f", v }')
    cold_details+=("$metastore: ${times[*]} ms")

    # 2. Latency under load.
    start_server "$metastore"
    wait_ready
    auth_out=$(curl -s --max-time 10 -X POST "$base/bim/apikey/authenticate" \
        -H 'Content-Type: application/json' -d "{\"apikey\":\"$ADMIN_KEY\"}") || die "POST /bim/apikey/authenticate failed"
    token=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$auth_out" 2>/dev/null) ||
        die "no token in the /bim/apikey/authenticate response: $auth_out"

    routes=("GET /health||/health"
            "GET /bim/rpc/user/current (Bearer token)|Bearer $token|/bim/rpc/user/current"
            "GET /bim/rpc/user/current (raw API key)|$ADMIN_KEY|/bim/rpc/user/current")
    for route in "${routes[@]}"; do
        IFS='|' read -r label auth path <<<"$route"
        check_route "$path" "$auth"
    done
    log "$metastore: warming up (1 s per route)"
    for route in "${routes[@]}"; do
        IFS='|' read -r label auth path <<<"$route"
        run_wrk "$metastore warm-up $label" 1s "$path" "$auth"
    done
    base_p50=
    for route in "${routes[@]}"; do
        IFS='|' read -r label auth path <<<"$route"
        log "$metastore: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $label"
        run_wrk "$metastore $label" "$DURATION" "$path" "$auth"
        [[ -n "$base_p50" ]] || base_p50=$p50
        ratio=$(awk -v a="$p50" -v b="$base_p50" 'BEGIN { printf "%.2f", a / b }')
        row=$(awk -v m="$metastore" -v c="$cold" -v l="$label" -v p50="$p50" -v p99="$p99" -v rps="$rps" -v r="$ratio" \
            'BEGIN { printf "| %s | %s | %s | %.2f ms | %.2f ms | %.0f | %s |", m, c, l, p50, p99, rps, r }')
        rows+=("$row")
        log "  p50 $p50 ms, p99 $p99 ms, $rps req/s, p50 ratio $ratio"
    done
    stop_server
    report_server_log "$metastore latency"
done

# --- Report -----------------------------------------------------------------------
echo
echo "Identity benchmark — warden $("$BIN" --version 2>/dev/null || echo '?'), $(nproc) cores shared by wrk and the server," \
     "wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| metastore | cold start median (ms) | route | p50 | p99 | req/s | p50 ratio to /health |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "Cold starts, launch to first 200 from /health:"
for note in "${cold_details[@]}" "${socket_notes[@]}" "${server_log_notes[@]}"; do
    echo "- $note"
done
