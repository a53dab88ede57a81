# Shared plumbing for the benchmark scripts in this directory; sourced, not run:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Sourcing only defines the constants and functions below. A script calls, in this order:
#   unset_server_env            clear the WARDEN_* variables so only the script configures the server;
#   check_prerequisites         parse WARDEN_TEST_POSTGRES_URL into pg_user/pg_pass/pg_host/pg_port/pg_auth,
#                               find psql (also in WARDEN_TEST_POSTGRES_BIN), check curl, python3, swift;
#   setup_scratch               create $work and install the EXIT/INT/TERM traps: on every exit path the
#                               server is stopped, the databases in `databases` are dropped and $work removed;
#   build_warden                release build of `warden` into .build-bench (never the default .build);
# then measures with start_server / wait_ready / fetch_token / stop_server / report_server_log, and
# new_database, free_port, psql_admin and median. The calling script keeps `set -euo pipefail`.
# shellcheck shell=bash disable=SC2034  # variables set here are read by the sourcing script

ADMIN_KEY=bench-admin-key-0123456789abcdef
SCRATCH=.build-bench
BIN=$SCRATCH/release/warden

bench_name=${BASH_SOURCE[1]:-$0}
bench_name=${bench_name##*/}

log() { printf '%s: %s\n' "$bench_name" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# Unsets the server's configuration variables, so only what the script passes may configure the server (a
# script that starts servers with more settings unsets those itself).
unset_server_env() {
    unset WARDEN_HOST WARDEN_PORT WARDEN_DATA_DIR WARDEN_DATABASE_URL WARDEN_LOG_LEVEL WARDEN_MASTER_KEY \
          WARDEN_ADMIN_API_KEY WARDEN_TOKEN_TTL WARDEN_MAX_BODY_SIZE
}

# --- Prerequisites ----------------------------------------------------------------
# Checks WARDEN_TEST_POSTGRES_URL and sets pg_user, pg_pass, pg_host, pg_port and pg_auth (user[:pass]) from
# it; puts psql on PATH (from WARDEN_TEST_POSTGRES_BIN if needed); checks for curl, python3 and swift.
check_prerequisites() {
    [[ -n "${WARDEN_TEST_POSTGRES_URL:-}" ]] ||
        die "WARDEN_TEST_POSTGRES_URL is not set; run this as: scripts/with-postgres $0"
    if [[ ! "$WARDEN_TEST_POSTGRES_URL" =~ ^postgres(ql)?://([^:@/]+)(:([^@/]*))?@([^:/]+):([0-9]+)(/.*)?$ ]]; then
        # Not printed: the URL carries a password.
        die "cannot parse WARDEN_TEST_POSTGRES_URL; expected postgres://user[:pass]@host:port/db"
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
    local tool
    for tool in curl python3 swift; do
        command -v "$tool" >/dev/null 2>&1 || die "$tool not found"
    done
}

# --- Scratch state and cleanup ----------------------------------------------------
psql_admin() {
    psql "$WARDEN_TEST_POSTGRES_URL" -X -q -v ON_ERROR_STOP=1 "$@"
}

# Creates the scratch directory $work and installs the traps that run cleanup on every exit path.
# Databases appended to `databases` are dropped by cleanup.
setup_scratch() {
    work=$(mktemp -d /tmp/warden-bench.XXXXXX)
    server_pid=
    databases=()
    db_seq=0
    run_seq=0
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# Stops the running server (if any): SIGTERM, then SIGKILL after 10 s.
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

# The EXIT trap: stops the server, drops the databases, removes $work, keeps the exit status.
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

# --- Build ------------------------------------------------------------------------
build_warden() {
    log "building warden (release, --scratch-path $SCRATCH)"
    swift build -c release --product warden --scratch-path "$SCRATCH" >&2 || die "swift build failed"
    [[ -x "$BIN" ]] || die "$BIN not found after the build"
}

# --- Requests ---------------------------------------------------------------------
# call METHOD PATH [BODY]: one request as the admin to the running server that must answer 2xx; prints the body.
call() {
    local method=$1 path=$2 body=${3:-} out="$work/call.out" code
    code=$(curl -s -o "$out" -w '%{http_code}' --max-time 120 -X "$method" "$base$path" -H "Authorization: $ADMIN_KEY" \
        -H 'Content-Type: application/json' ${body:+--data-binary "$body"})
    [[ "$code" == 2?? ]] || { cat "$out" >&2; echo >&2; die "$method $path answered $code"; }
    cat "$out"
}

# json EXPRESSION: evaluates the Python expression over the JSON on stdin, bound to `v`, and prints it.
json() { python3 -c "import json, sys; v = json.load(sys.stdin); print(eval(sys.argv[1], {'v': v}))" "$1"; }

# --- Servers ----------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Creates a fresh metastore database (dropped by cleanup) and sets new_db_url to its WARDEN_DATABASE_URL.
new_database() {
    db_seq=$((db_seq + 1))
    local name="bench_$$_$db_seq"
    psql_admin -c "CREATE DATABASE $name" >/dev/null || die "CREATE DATABASE $name failed"
    databases+=("$name")
    new_db_url="postgres://$pg_auth@$pg_host:$pg_port/$name"
}

# start_server METASTORE [NAME=VALUE...]: launches warden in the background on a fresh data dir (and, for
# postgresql, a fresh database), with WARDEN_ADMIN_API_KEY=$ADMIN_KEY, WARDEN_LOG_LEVEL=warning and the
# given extra environment. Sets server_pid, port, base, server_log and launch_ns (just before the launch).
start_server() {
    local metastore=$1 dir db_url=
    shift
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
    local vars=(WARDEN_ADMIN_API_KEY="$ADMIN_KEY" WARDEN_LOG_LEVEL=warning "$@")
    [[ -z "$db_url" ]] || vars+=(WARDEN_DATABASE_URL="$db_url")
    launch_ns=$(date +%s%N)
    # One fork, then exec: server_pid is warden's own pid, as with `VAR=… "$BIN" … &`.
    ( export "${vars[@]}"; exec "$BIN" serve --port "$port" --data-dir "$dir" >"$server_log" 2>&1 ) &
    server_pid=$!
}

# wait_ready [POLL_SECONDS]: polls GET /health every POLL_SECONDS (default 0.01) until it answers 200; sets
# ready_ns. Fails if the server dies or takes over 60 s.
wait_ready() {
    local poll=${1:-0.01} code deadline=$(( $(date +%s) + 60 ))
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
        sleep "$poll"
    done
}

# Sets token to a Bearer token for the admin API key from POST /bim/apikey/authenticate on the running
# server (a caller's `local token` receives it).
fetch_token() {
    local auth_out
    auth_out=$(curl -s --max-time 10 -X POST "$base/bim/apikey/authenticate" \
        -H 'Content-Type: application/json' -d "{\"apikey\":\"$ADMIN_KEY\"}") || die "POST /bim/apikey/authenticate failed"
    token=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["token"])' "$auth_out" 2>/dev/null) ||
        die "no token in the /bim/apikey/authenticate response: $auth_out"
}

# report_server_log WHAT: prints the server's output that is not the normal start-up banner, if any, under a
# heading, and adds a line about it to server_log_notes.
report_server_log() {
    local what=$1 extra
    extra=$(grep -v -E '^Warden .* listening on ' "$server_log" || true)
    if [[ -n "$extra" ]]; then
        log "server output ($what):"
        printf '%s\n' "$extra" | sed 's/^/    /' >&2
        server_log_notes+=("$what: $(printf '%s\n' "$extra" | wc -l) line(s) of server output at warning level or above")
    fi
}

# median NUMBER...: prints the median.
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# run_wrk LABEL DURATION PATH AUTH [LUA_SCRIPT]: loads GET PATH with wrk (THREADS, CONNECTIONS, TIMEOUT), fails on
# non-2xx responses, and sets p50 p99 (ms), rps and sockerr; socket errors are also collected in wrk_notes.
wrk_notes=()
run_wrk() {
    local label=$1 duration=$2 path=$3 auth=$4 script=${5:-} out parsed sockerr non2xx header=() extra=()
    out="$work/wrk-$run_seq-${label//[^A-Za-z0-9]/_}.txt"
    [[ -z "$auth" ]] || header=(-H "Authorization: $auth")
    [[ -z "$script" ]] || extra=(-s "$script")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$duration" --timeout "${TIMEOUT:-2s}" --latency "${header[@]}" "${extra[@]}" "$base$path" >"$out" 2>&1 ||
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
        wrk_notes+=("$label: wrk socket errors ${sockerr//_/ }")
    fi
}

# measure_routes METASTORE WARMUP "LABEL|AUTH|PATH"...: warms every route up for WARMUP, then loads each for DURATION
# with run_wrk; sets `measured`, one "LABEL|p50|p99|rps|ratio" entry per route, the ratio being its p50 over the
# first route's (the baseline measured in the same run).
measure_routes() {
    # Not `base`: run_wrk reads the server's URL from the global of that name.
    local metastore=$1 warmup=$2 route label auth path baseline= ratio
    shift 2
    measured=()
    log "$metastore: warming up ($warmup per route)"
    for route in "$@"; do
        IFS='|' read -r label auth path <<<"$route"
        run_wrk "$metastore warm-up $label" "$warmup" "$path" "$auth"
    done
    for route in "$@"; do
        IFS='|' read -r label auth path <<<"$route"
        log "$metastore: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $label"
        run_wrk "$metastore $label" "$DURATION" "$path" "$auth"
        [[ -n "$baseline" ]] || baseline=$p50
        ratio=$(awk -v a="$p50" -v b="$baseline" 'BEGIN { printf "%.2f", a / b }')
        measured+=("$label|$p50|$p99|$rps|$ratio")
        log "  p50 $p50 ms, p99 $p99 ms, $rps req/s, p50 ratio $ratio"
    done
}

# ensure_wrk: installs wrk with apt-get when it is missing (apt-get update only if the plain install fails).
ensure_wrk() {
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
}
