#!/usr/bin/env bash
# Search benchmark: GET /dataSource?searchText=… and GET /dataSource/{id} with 100,000 registered data
# sources, on both metastores, against GET /health measured in the same run.
#
#   scripts/with-postgres Benchmarks/search.sh
#
# For each metastore (sqlite in a fresh --data-dir; postgresql in a fresh database on the server in
# WARDEN_TEST_POSTGRES_URL, which scripts/with-postgres provides):
#   1. setup: `warden serve` is started once (it migrates and creates `admin`) and stopped; then
#      `warden-bench seed` inserts SOURCES data sources owned by admin straight into the metastore through
#      DataSourceStore.create, 1,000 per transaction, each with 20 dictionary columns and a fake PostgreSQL
#      handler (hostname bench.invalid: no warehouse is contacted, no job is queued). Names are
#      "<Department> <Noun> <n>" over 10 departments, so `finance` and `support` each match 1 in 10 (finance
#      names sort second by name, support names last); one in 5,000 also carries "Hyperion", so `hyperion`
#      matches SOURCES/5000. The seeding time is reported. On PostgreSQL the database is then VACUUM
#      ANALYZEd (the state autovacuum reaches on its own) and CHECKPOINTed (so flushing the seed's dirty pages
#      does not disturb the measurement); SQLite is left as Warden leaves it (no ANALYZE);
#   2. latency: warden restarted on that metastore with WARDEN_JOB_CONCURRENCY=0, a Bearer token for admin,
#      a warm-up of 1 s per route, then `wrk -t2 -c32 -d15s --timeout 10s --latency` against GET /health (the
#      baseline: no credentials, one metastore round trip), GET /bim/rpc/user/current (a reference: the
#      Bearer-token authentication every other route pays), GET /dataSource?searchText=<word>&size=20 for
#      each word, and GET /dataSource/{id} with an id drawn at random per request (a wrk Lua script). Any
#      non-2xx response fails the run, and so does a count other than the seeded one for the known words.
#      After each wrk run the script waits until GET /health is fast again (requests wrk abandoned when it
#      stopped are still being served), so one route's backlog does not spill into the next;
#   3. query plans of the search as the server sends it (DataSourceStore+Queries.swift, FULL mode with
#      searchText: one statement whose materialized CTE collects the matching ids and sort keys, visibility
#      join included, and yields both the total and the page), for each word: on PostgreSQL EXPLAIN (ANALYZE,
#      BUFFERS) of a prepared statement with the parameter types PostgresNIO binds (bigint, boolean, text),
#      the text matched with LIKE (pg_trgm index); on SQLite, where the text is an FTS5 trigram phrase MATCH,
#      EXPLAIN QUERY PLAN and a timing (median of 5) through `warden-bench sql`, i.e. the SQLite library
#      linked into warden, and, for comparison, through python3's sqlite3 module, whose older SQLite may
#      plan differently.
# The result is a Markdown report on stdout (progress goes to stderr); nothing is written to the repository.
#
# NOTE: wrk and the server (and, for postgresql, the database server) share this machine's cores (2 on the
# reference machine), so absolute latencies are pessimistic; compare the ratios against /health measured in
# the same run. Every data source is owned by admin, the caller, so the visibility join always finds a row.
#
# Needs: root + apt-get to install wrk if it is missing, swift, curl, python3 (with sqlite3), psql.
# Tunables (environment): BENCH_SOURCES (100000), BENCH_DURATION (15s), BENCH_TIMEOUT (10s), BENCH_THREADS (2),
#                         BENCH_CONNECTIONS (32), BENCH_WORDS ("finance support hyperion"),
#                         BENCH_METASTORES ("sqlite postgresql").
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SOURCES=${BENCH_SOURCES:-100000}
DURATION=${BENCH_DURATION:-15s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}
# wrk's default 2 s timeout drops slower responses from the latency figures (as socket timeouts); a slow
# search must show up in p99 instead.
TIMEOUT=${BENCH_TIMEOUT:-10s}
# finance and support each match 1 in 10 seeded names; finance names sort second of the ten departments,
# support names last (the worst case for a plan that walks the name index in order); hyperion matches 1 in 5,000.
read -r -a WORDS <<<"${BENCH_WORDS:-finance support hyperion}"
METASTORES=${BENCH_METASTORES:-sqlite postgresql}
PAGE_SIZE=20
BENCH_BIN=$SCRATCH/release/warden-bench

# Only what this script passes may configure the server.
unset_server_env
unset WARDEN_JOB_CONCURRENCY WARDEN_JOB_LEASE_SECONDS WARDEN_WAREHOUSE_CONNECT_TIMEOUT WARDEN_WAREHOUSE_TIMEOUT

[[ "$SOURCES" =~ ^[1-9][0-9]*$ ]] || die "BENCH_SOURCES must be a positive whole number, got \"$SOURCES\""
(( ${#WORDS[@]} > 0 )) || die "BENCH_WORDS lists no search word"
for word in "${WORDS[@]}"; do
    [[ "$word" =~ ^[A-Za-z0-9]+$ ]] || die "search words must be letters and digits, got \"$word\""
done
for metastore in $METASTORES; do
    [[ "$metastore" == sqlite || "$metastore" == postgresql ]] || die "BENCH_METASTORES lists sqlite and/or postgresql, got \"$metastore\""
done

# --- Prerequisites ----------------------------------------------------------------
check_prerequisites
python3 -c 'import sqlite3' 2>/dev/null || die "python3 has no sqlite3 module"

ensure_wrk

# --- Scratch state, cleanup and build ----------------------------------------------
setup_scratch
build_warden
log "building warden-bench (release, --scratch-path $SCRATCH)"
swift build -c release --product warden-bench --scratch-path "$SCRATCH" >&2 || die "swift build (warden-bench) failed"
[[ -x "$BENCH_BIN" ]] || die "$BENCH_BIN not found after the build"

# --- Helpers ----------------------------------------------------------------------
# relaunch_server DIR DB_URL [NAME=VALUE...]: starts warden again on an existing data dir (and database, when
# DB_URL is set), as start_server does for fresh ones. Sets server_pid, port, base and server_log.
relaunch_server() {
    local dir=$1 db_url=$2
    shift 2
    run_seq=$((run_seq + 1))
    server_log="$work/server-$run_seq.log"
    port=$(free_port)
    base="http://127.0.0.1:$port"
    local vars=(WARDEN_ADMIN_API_KEY="$ADMIN_KEY" WARDEN_LOG_LEVEL=warning "$@")
    [[ -z "$db_url" ]] || vars+=(WARDEN_DATABASE_URL="$db_url")
    ( export "${vars[@]}"; exec "$BIN" serve --port "$port" --data-dir "$dir" >"$server_log" 2>&1 ) &
    server_pid=$!
}

# check_route PATH AUTH: one request with curl before loading a route with wrk; leaves the body in $work/check.out.
check_route() {
    local path=$1 auth=$2 code header=()
    [[ -z "$auth" ]] || header=(-H "Authorization: $auth")
    code=$(curl -s -o "$work/check.out" -w '%{http_code}' --max-time 30 "${header[@]}" "$base$path" || true)
    if [[ "$code" != 2?? ]]; then
        log "GET $path answered $code:"
        cat "$work/check.out" >&2; echo >&2
        die "GET $path did not answer 2xx before the load test"
    fi
}


# settle: waits until the server has finished the requests wrk left behind when it stopped (their connections
# are closed, their queries still run), so they do not slow the next route: until three GET /health in a row
# answer within 20 ms, at most 30 s.
settle() {
    local fast=0 elapsed
    for _ in $(seq 1 120); do
        elapsed=$(curl -s -o /dev/null -w '%{time_total}' --max-time 5 "$base/health" 2>/dev/null || echo 5)
        if awk -v t="$elapsed" 'BEGIN { exit !(t < 0.02) }'; then
            fast=$((fast + 1))
            (( fast < 3 )) || return 0
        else
            fast=0
        fi
        sleep 0.25
    done
    log "warning: the server was still busy 30 s after wrk stopped"
    notes+=("the server was still busy 30 s after a wrk run stopped")
}

# json_field FILE EXPR: prints a value from a JSON file (EXPR is Python over `d`).
json_field() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }

# The search as DataSourceStore.search sends it for `searchText=<word>&size=20` (mode FULL, sort by name,
# ascending; no other filter): one statement whose materialized CTE `hits` collects the matching ids and sort
# keys once (the visibility rule, then the dialect's text condition), counts them and pages from them, and
# reads full rows for the page alone. PG_SOURCE and SQLITE_SOURCE_* are the FROM … WHERE inside `hits`.
PG_SOURCE="FROM data_sources ds
LEFT JOIN data_source_members m ON m.data_source_id = ds.id AND m.user_id = \$1
WHERE ((ds.disabled = \$2 AND (ds.private = \$3 OR (m.state IS NOT NULL AND m.state <> 'pending')))
 OR (ds.disabled = \$4 AND m.state = 'owner')) AND (LOWER(ds.name) LIKE \$5 ESCAPE '\\' OR LOWER(COALESCE(ds.description, '')) LIKE \$6 ESCAPE '\\')"
SQLITE_VISIBLE="FROM data_sources ds
LEFT JOIN data_source_members m ON m.data_source_id = ds.id AND m.user_id = ?
WHERE ((ds.disabled = ? AND (ds.private = ? OR (m.state IS NOT NULL AND m.state <> 'pending')))
 OR (ds.disabled = ? AND m.state = 'owner'))"
# SQLite's text condition: an FTS5 trigram phrase MATCH for text of 3+ characters (one bind: the text quoted as
# a phrase); shorter text falls back to LIKE over the table (two binds: the escaped, lower-cased pattern).
SQLITE_SOURCE_MATCH="$SQLITE_VISIBLE AND ds.id IN (SELECT rowid FROM data_source_search WHERE data_source_search MATCH ?)"
SQLITE_SOURCE_LIKE="$SQLITE_VISIBLE AND (LOWER(ds.name) LIKE ? ESCAPE '\\' OR LOWER(COALESCE(ds.description, '')) LIKE ? ESCAPE '\\')"
COLUMNS_DS="ds.id, ds.name, ds.sql_table_name, ds.sql_schema_name, ds.schema_project_name, ds.technology, ds.type, ds.record_format, ds.private, ds.organization, ds.category, ds.description, ds.has_examples, ds.connection_string, ds.remote_schema, ds.remote_table, ds.row_count, ds.high_cardinality_column, ds.disabled, ds.status, ds.status_info, ds.documentation, ds.created_by, ds.created_at, ds.updated_at"

# search_sql SOURCE LIMIT OFFSET CALLER: the FULL-mode text search statement around SOURCE, with the given
# placeholders for the page's LIMIT and OFFSET and the caller id of the outer membership join.
search_sql() {
    local source=$1 limit=$2 offset=$3 caller=$4
    cat <<SQL
WITH hits AS MATERIALIZED (
    SELECT ds.id AS id, LOWER(ds.name) AS sort_key $source),
page AS (
    SELECT id, sort_key FROM hits ORDER BY sort_key ASC, id ASC
    LIMIT $limit OFFSET $offset)
SELECT (SELECT COUNT(*) FROM hits) AS total, $COLUMNS_DS, m.state AS member_state
FROM page h JOIN data_sources ds ON ds.id = h.id
LEFT JOIN data_source_members m ON m.data_source_id = ds.id AND m.user_id = $caller
ORDER BY h.sort_key ASC, h.id ASC
SQL
}

# postgres_plans DB_URL ADMIN_ID: EXPLAIN (ANALYZE, BUFFERS) of the search statement for each word.
postgres_plans() {
    local db_url=$1 admin_id=$2 word
    local statement
    statement=$(search_sql "$PG_SOURCE" '$7' '$8' '$9')
    for word in "${WORDS[@]}"; do
        # SQLText.containsPattern: the text lower-cased (words are letters and digits: nothing to escape), in %.
        local args="$admin_id, false, false, true, '%${word,,}%', '%${word,,}%', $PAGE_SIZE, 0, $admin_id"
        echo "PostgreSQL, searchText=$word — search statement (hits CTE, count and page in one):"
        echo '```'
        psql "$db_url" -X -q -A -t -v ON_ERROR_STOP=1 <<SQL
PREPARE search_full(bigint, boolean, boolean, boolean, text, text, bigint, bigint, bigint) AS
$statement;
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) EXECUTE search_full($args);
SQL
        echo '```'
        echo
    done
}

# sqlite_plans DB_PATH ADMIN_ID: EXPLAIN QUERY PLAN and a timing (median of 5 runs) of the search statement
# for each word, first through `warden-bench sql` (the SQLite library linked into warden, with the server's
# connection settings), then through python3's sqlite3 module for comparison (another SQLite version: its
# planner may differ).
sqlite_plans() {
    local db=$1 admin_id=$2 word sql out version value
    version=$("$BENCH_BIN" sql --database-url "$db" "SELECT sqlite_version() AS v")
    local match_sql like_sql
    match_sql=$(search_sql "$SQLITE_SOURCE_MATCH" '?' '?' '?')
    like_sql=$(search_sql "$SQLITE_SOURCE_LIKE" '?' '?' '?')
    for word in "${WORDS[@]}"; do
        # SQLiteKit binds Bool as an integer. Text of 3+ characters is matched as an FTS5 phrase ("word";
        # words are letters and digits: no quote to double); shorter text as a lower-cased LIKE pattern.
        local binds=("$admin_id" 0 0 1)
        if (( ${#word} >= 3 )); then
            sql=$match_sql; binds+=("\"$word\"")
        else
            sql=$like_sql; binds+=("%${word,,}%" "%${word,,}%")
        fi
        binds+=("$PAGE_SIZE" 0 "$admin_id")
        local bind_args=()
        for value in "${binds[@]}"; do bind_args+=(--bind "$value"); done
        echo "SQLite, searchText=$word — search statement (hits CTE, count and page in one):"
        echo '```'
        echo "-- warden's SQLite $version (warden-bench sql):"
        "$BENCH_BIN" sql --database-url "$db" "${bind_args[@]}" "EXPLAIN QUERY PLAN $sql"
        out=$("$BENCH_BIN" sql --database-url "$db" --runs 5 "${bind_args[@]}" "$sql")
        echo "-- result: $(head -n 1 <<<"$out" | sed 's/^-- //'); $(tail -n 1 <<<"$out" | sed 's/^-- //')"
        python3 - "$db" "$sql" "${binds[@]}" <<'PY'
import sqlite3, statistics, sys, time
path, sql, *binds = sys.argv[1:]
params = [int(b) if b.lstrip("-").isdigit() else b for b in binds]
print(f"-- python3's sqlite3, SQLite {sqlite3.sqlite_version}:")
db = sqlite3.connect(path)  # the server is stopped; only reads are sent
try:
    depth = {0: -1}
    for node, parent, _, detail in db.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall():
        depth[node] = depth.get(parent, -1) + 1
        print("  " * depth[node] + detail)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        rows = db.execute(sql, params).fetchall()
        times.append((time.perf_counter() - started) * 1000)
    # The first column is the total (the same on every row); an empty page carries none.
    result = f"{len(rows)} row(s), total {rows[0][0] if rows else '-'}"
    print(f"-- result: {result}; median of 5 runs: {statistics.median(times):.1f} ms")
except sqlite3.Error as error:
    print(f"-- python's SQLite could not run it: {error}")
PY
        echo '```'
        echo
    done
    local analyzed
    analyzed=$("$BENCH_BIN" sql --database-url "$db" "SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'sqlite_stat1'")
    echo "(SQLite ANALYZE statistics: $([[ $analyzed == 0 ]] && echo 'none — Warden does not run ANALYZE' || echo present).)"
    echo
}

# --- Measurements -----------------------------------------------------------------
rows=()
seed_notes=()
plans=()
notes=()
server_log_notes=()

for metastore in $METASTORES; do
    # 1. Bootstrap, seed.
    log "$metastore: first start (migrations, admin user)"
    start_server "$metastore" WARDEN_JOB_CONCURRENCY=0
    wait_ready
    data_dir="$work/data-$run_seq"
    if [[ "$metastore" == postgresql ]]; then db_url=$new_db_url; seed_url=$new_db_url; else db_url=; seed_url="$data_dir/warden.sqlite"; fi
    stop_server
    report_server_log "$metastore first start"

    log "$metastore: seeding $SOURCES data sources"
    seed_out="$work/seed-$metastore.out"
    "$BENCH_BIN" seed --database-url "$seed_url" --data-dir "$data_dir" --count "$SOURCES" >"$seed_out" ||
        { cat "$seed_out" >&2; die "warden-bench seed failed ($metastore)"; }
    seed_line=$(grep -E '^seeded ' "$seed_out") || die "no 'seeded' line in the seeder's output"
    id_range=$(sed -n -E 's/^ids ([0-9]+)-([0-9]+)$/\1 \2/p' "$seed_out")
    read -r first_id last_id <<<"$id_range"
    [[ -n "$first_id" && $((last_id - first_id + 1)) -eq "$SOURCES" ]] ||
        die "the seeded ids are not a contiguous range ($id_range); the random-id load needs one"
    log "$metastore: $seed_line; ids $first_id-$last_id"
    if [[ "$metastore" == postgresql ]]; then
        log "$metastore: VACUUM ANALYZE, CHECKPOINT"
        psql "$db_url" -X -q -v ON_ERROR_STOP=1 -c 'VACUUM ANALYZE' -c 'CHECKPOINT' >&2 || die "VACUUM ANALYZE failed"
        size=$(psql "$db_url" -X -A -t -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')
    else
        size=$(du -sh "$data_dir" | cut -f1)
    fi
    seed_notes+=("$metastore: $seed_line (batches of 1,000, one transaction each); metastore size afterwards $size")

    # 2. Latency under load.
    relaunch_server "$data_dir" "$db_url" WARDEN_JOB_CONCURRENCY=0
    wait_ready
    fetch_token
    auth="Bearer $token"
    lua="$work/random-id.lua"
    cat >"$lua" <<LUA
-- GET /dataSource/{id} with an id drawn per request from the seeded range.
local counter = 0
function setup(thread)
    counter = counter + 1
    thread:set("thread_number", counter)
end
function init(args)
    math.randomseed(os.time() * 1000 + (thread_number or 0) * 7919)
end
function request()
    return wrk.format("GET", "/dataSource/" .. math.random($first_id, $last_id))
end
LUA
    routes=("GET /health||/health|"
            "GET /bim/rpc/user/current (auth only)|$auth|/bim/rpc/user/current|")
    for word in "${WORDS[@]}"; do
        routes+=("GET /dataSource?searchText=$word&size=$PAGE_SIZE|$auth|/dataSource?searchText=$word&size=$PAGE_SIZE|")
    done
    routes+=("GET /dataSource/{random id}|$auth|/dataSource/$first_id|$lua")
    declare -A matches=()
    for route in "${routes[@]}"; do
        IFS='|' read -r label route_auth path script <<<"$route"
        check_route "$path" "$route_auth"
        case "$path" in
            /dataSource\?*)
                count=$(json_field "$work/check.out" 'd["count"]')
                hits=$(json_field "$work/check.out" 'len(d["hits"])')
                (( hits == (count < PAGE_SIZE ? count : PAGE_SIZE) )) || die "GET $path: $hits hits for count $count"
                matches[$label]=$count ;;
            /dataSource/*) matches[$label]=1 ;;
            *) matches[$label]=- ;;
        esac
    done
    # The seeded catalog's known selectivities (see BenchCatalog in Sources/warden-bench).
    for word in "${WORDS[@]}"; do
        case $word in
            finance|support) expected=$((SOURCES / 10)) ;;
            hyperion) expected=$((SOURCES / 5000)) ;;
            *) continue ;;
        esac
        got=${matches[GET /dataSource?searchText=$word&size=$PAGE_SIZE]}
        [[ "$got" == "$expected" ]] || die "searchText=$word counted $got data sources, expected $expected"
    done

    log "$metastore: warming up (1 s per route)"
    for route in "${routes[@]}"; do
        IFS='|' read -r label route_auth path script <<<"$route"
        run_wrk "$metastore warm-up $label" 1s "$path" "$route_auth" "$script"
        settle
    done
    base_p50=
    for route in "${routes[@]}"; do
        IFS='|' read -r label route_auth path script <<<"$route"
        log "$metastore: wrk -t$THREADS -c$CONNECTIONS -d$DURATION $label"
        run_wrk "$metastore $label" "$DURATION" "$path" "$route_auth" "$script"
        settle
        [[ -n "$base_p50" ]] || base_p50=$p50
        ratio=$(awk -v a="$p50" -v b="$base_p50" 'BEGIN { printf "%.2f", a / b }')
        row=$(awk -v m="$metastore" -v l="$label" -v n="${matches[$label]}" -v p50="$p50" -v p99="$p99" -v rps="$rps" -v r="$ratio" \
            'BEGIN { printf "| %s | `%s` | %s | %.2f ms | %.2f ms | %.0f | %s |", m, l, n, p50, p99, rps, r }')
        rows+=("$row")
        log "  p50 $p50 ms, p99 $p99 ms, $rps req/s, p50 ratio $ratio"
    done
    stop_server
    report_server_log "$metastore latency"
    unset matches

    # 3. Query plans.
    log "$metastore: query plans"
    plan_out="$work/plans-$metastore.md"
    if [[ "$metastore" == postgresql ]]; then
        admin_id=$(psql "$db_url" -X -A -t -c "SELECT id FROM users WHERE userid = 'admin'")
        postgres_plans "$db_url" "$admin_id" >"$plan_out" 2>&1 || { cat "$plan_out" >&2; die "EXPLAIN failed"; }
    else
        admin_id=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM users WHERE userid = ?", ("admin",)).fetchone()[0])' \
            "$data_dir/warden.sqlite")
        sqlite_plans "$data_dir/warden.sqlite" "$admin_id" >"$plan_out" 2>&1 || { cat "$plan_out" >&2; die "EXPLAIN QUERY PLAN failed"; }
    fi
    plans+=("$plan_out")
done

# --- Report -----------------------------------------------------------------------
echo
echo "Search benchmark — warden $("$BIN" --version 2>/dev/null || echo '?'), $SOURCES data sources (20 dictionary columns each)," \
     "$(nproc) cores shared by wrk, the server and the database, wrk -t$THREADS -c$CONNECTIONS -d$DURATION --timeout $TIMEOUT, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| metastore | route | matches | p50 | p99 | req/s | p50 ratio to /health |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "Seeding (warden-bench seed, through DataSourceStore.create):"
for note in "${seed_notes[@]}"; do echo "- $note"; done
if (( ${#notes[@]} + ${#wrk_notes[@]} + ${#server_log_notes[@]} > 0 )); then
    echo
    echo "Notes:"
    for note in "${notes[@]}" "${wrk_notes[@]}" "${server_log_notes[@]}"; do echo "- $note"; done
fi
echo
echo "Query plans of the search statement (hits CTE: total and page in one), as DataSourceStore.search sends it:"
echo
for plan in "${plans[@]}"; do cat "$plan"; done
