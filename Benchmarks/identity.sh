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

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

COLD_RUNS=${BENCH_COLD_RUNS:-5}
DURATION=${BENCH_DURATION:-15s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}

# Only what this script passes may configure the server.
unset_server_env

# --- Prerequisites ----------------------------------------------------------------
check_prerequisites

ensure_wrk

# --- Scratch state, cleanup and build ----------------------------------------------
setup_scratch
build_warden

# --- Helpers ----------------------------------------------------------------------
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


# --- Measurements -----------------------------------------------------------------
rows=()
cold_details=()
server_log_notes=()

for metastore in sqlite postgresql; do
    # 1. Cold start.
    times=()
    for i in $(seq 1 "$COLD_RUNS"); do
        start_server "$metastore"
        wait_ready 0.005
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
    wait_ready 0.005
    fetch_token

    routes=("GET /health||/health"
            "GET /bim/rpc/user/current (Bearer token)|Bearer $token|/bim/rpc/user/current"
            "GET /bim/rpc/user/current (raw API key)|$ADMIN_KEY|/bim/rpc/user/current")
    for route in "${routes[@]}"; do
        IFS='|' read -r label auth path <<<"$route"
        check_route "$path" "$auth"
    done
    measure_routes "$metastore" 1s "${routes[@]}"
    for entry in "${measured[@]}"; do
        IFS='|' read -r label p50 p99 rps ratio <<<"$entry"
        rows+=("$(awk -v m="$metastore" -v c="$cold" -v l="$label" -v p50="$p50" -v p99="$p99" -v rps="$rps" -v r="$ratio" \
            'BEGIN { printf "| %s | %s | %s | %.2f ms | %.2f ms | %.0f | %s |", m, c, l, p50, p99, rps, r }')")
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
for note in "${cold_details[@]}" "${wrk_notes[@]}" "${server_log_notes[@]}"; do
    echo "- $note"
done
