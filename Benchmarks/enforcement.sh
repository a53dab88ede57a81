#!/usr/bin/env bash
# Enforcement benchmark: what a warehouse user pays for reading through the native view Warden generates, against
# the raw table, side by side in the same run on the private PostgreSQL server.
#
#   scripts/with-postgres Benchmarks/enforcement.sh
#
# A table of BENCH_ROWS (1,000,000) rows and 12 columns, an index on `state`. Warden (SQLite metastore) registers it;
# a reader role is subscribed with attribute State=CA. Two policies, each measured on its own view generation:
#   masks  - 4 masked columns (constant, hash, null, regular expression): `SELECT *` (every row to the client) and an
#            aggregation, through the view as the reader and on the raw table;
#   filter - a visibility rule on `state` (the reader's State): an aggregation through the view, and on the raw table
#            with the same hand-written WHERE; both plans are printed.
# Median of BENCH_RUNS (5) runs each, timed by psql. Prints a Markdown table on stdout.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS=${BENCH_ROWS:-1000000}
RUNS=${BENCH_RUNS:-5}

unset_server_env
check_prerequisites
setup_scratch
build_warden

wh_db="bench_enf_$$"
reader="bench_reader_$$"
psql_admin -c "CREATE DATABASE $wh_db" >/dev/null || die "CREATE DATABASE $wh_db failed"
databases+=("$wh_db")
wh_url="postgres://$pg_auth@$pg_host:$pg_port/$wh_db"
psql_admin -c "CREATE ROLE $reader LOGIN PASSWORD 'bench-reader'" >/dev/null
# The reader role outlives its database's grants only once the database is gone; cleanup keeps the exit status.
drop_reader() {
    psql_admin -c "DROP DATABASE IF EXISTS $wh_db WITH (FORCE)" >/dev/null 2>&1 || true
    psql_admin -c "DROP ROLE IF EXISTS $reader" >/dev/null 2>&1 || true
}
trap 'rc=$?; drop_reader; (exit $rc); cleanup' EXIT
log "creating bench.wide with $ROWS rows"
psql "$wh_url" -X -q -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE SCHEMA bench;
CREATE TABLE bench.wide (id bigint PRIMARY KEY, name text, email text, ssn text, phone text, state text, dept text,
    salary numeric, born date, created_at timestamptz, score double precision, note text);
INSERT INTO bench.wide SELECT i, 'name ' || i, 'user' || i || '@example.com', lpad((i::bigint * 7919 % 1000000000)::text, 9, '0'),
    '555-' || lpad((i % 10000)::text, 4, '0'), (ARRAY['CA','TX','NY','WA','OR','NV','AZ','UT','CO','ID'])[1 + i % 10],
    (ARRAY['HR','Sales','Eng','Ops'])[1 + i % 4], (i % 200000) * 1.5, DATE '1960-01-01' + (i % 15000), now() - (i % 86400) * interval '1 second',
    (i % 1000) / 10.0, 'note' FROM generate_series(1, $ROWS) i;
CREATE INDEX wide_state ON bench.wide (state);
ANALYZE bench.wide;
SQL

start_server sqlite
wait_ready
handler=$(python3 - "$pg_host" "$pg_port" "$wh_db" "$pg_user" "$pg_pass" <<'PY'
import json, sys
host, port, db, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print(json.dumps({"handler": [{"metadata": {"ssl": False, "userFiles": [], "port": port, "hostname": host, "database": db,
    "username": user, "password": password, "schema": "bench", "table": "wide", "bodataSchemaName": "bench", "bodataTableName": "wide",
    "dataSourceName": "Wide", "nativeSchemaName": "bench_views", "nativeViewName": "wide"}}],
    "dataSource": {"blobHandlerType": "PostgreSQL", "recordFormat": "json"}}))
PY
)
id=$(call POST /postgresql/handler "$handler" | json 'v["dataSources"][0]["dataSourceId"]')
call POST /bim/iam/bim/user "{\"userid\": \"reader\", \"profile\": {\"externalUserIds\": {\"postgresUser\": \"$reader\"}}}" >/dev/null
reader_id=$(call GET "/bim/user?userid=reader" | json '[h["id"] for h in v["hits"] if h["userid"] == "reader"][0]')
call PUT "/bim/iam/bim/user/reader/profile" "{\"externalUserIds\": {\"postgresUser\": \"$reader\"}}" >/dev/null
call POST "/dataSource/$id/access" "{\"profileId\": $reader_id, \"state\": \"subscribed\"}" >/dev/null
call PUT /bim/iam/bim/user/reader/authorizations/State/CA >/dev/null

# refresh: regenerates the view now and waits for its job.
refresh() {
    local bulk jobs
    bulk=$(call POST /dataSource/bulkRefreshViews "{\"dataSourceIds\": [$id]}" | json 'v["bulkId"]')
    jobs=$(call GET "/jobs?bulkId=$bulk" | python3 -c 'import json, sys; print(json.dumps([j["id"] for j in json.load(sys.stdin)]))')
    call POST /jobs/statuses "{\"jobIds\": $jobs, \"wait\": 120, \"pollInterval\": 1}" | python3 -c '
import json, sys
states = json.load(sys.stdin)
bad = [s for s in states.values() if s["state"] != "completed"]
sys.exit("view refresh failed: %s" % bad if bad else 0)' || die "the view refresh did not complete"
}

# timed ROLE SQL: median milliseconds of RUNS runs of SQL (output discarded), as ROLE (admin or reader).
timed() {
    local role=$1 sql=$2 url times=()
    if [[ "$role" == reader ]]; then url="postgres://$reader:bench-reader@$pg_host:$pg_port/$wh_db"; else url=$wh_url; fi
    for _ in $(seq 1 "$RUNS"); do
        times+=("$(psql "$url" -X -q -v ON_ERROR_STOP=1 -o /dev/null -c '\timing on' -c "$sql" 2>&1 | awk '/^Time:/ { print $2 }' | tail -1)")
    done
    [[ -n "${times[0]}" ]] || die "no timing for: $sql"
    median "${times[@]}"
}

rows=()
measure() {
    local label=$1 view_sql=$2 raw_sql=$3 as=${4:-reader} view_ms raw_ms
    view_ms=$(timed "$as" "$view_sql")
    raw_ms=$(timed admin "$raw_sql")
    rows+=("$(awk -v l="$label" -v v="$view_ms" -v r="$raw_ms" 'BEGIN { printf "| %s | %.1f ms | %.1f ms | %.2f |", l, v, r, v / r }')")
    log "$label: view $view_ms ms, raw $raw_ms ms"
}

log "policy: 4 masks"
call PUT "/policy/handler/$id" '{"jsonPolicies": [{"type": "masking", "rules": [
    {"type": "masking", "exceptions": null, "config": {"fields": ["email"], "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": "REDACTED"}}}},
    {"type": "masking", "exceptions": null, "config": {"fields": ["ssn"], "maskingConfig": {"type": "Consistent Value", "metadata": {}}}},
    {"type": "masking", "exceptions": null, "config": {"fields": ["phone"], "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": null}}}},
    {"type": "masking", "exceptions": null, "config": {"fields": ["name"], "maskingConfig": {"type": "Regular Expression", "metadata": {"regex": "[0-9]", "replacement": "#", "flags": "g"}}}}]}]}' >/dev/null
refresh
measure "SELECT * (every row to the client), 4 masked columns" "SELECT * FROM bench_views.wide" "SELECT * FROM bench.wide"
measure "aggregation over masked columns" "SELECT count(DISTINCT ssn), count(email), max(name), count(phone) FROM bench_views.wide" \
    "SELECT count(DISTINCT ssn), count(email), max(name), count(phone) FROM bench.wide"
measure "aggregation over unmasked columns, same view" "SELECT dept, count(*), avg(salary), max(born) FROM bench_views.wide GROUP BY dept" \
    "SELECT dept, count(*), avg(salary), max(born) FROM bench.wide GROUP BY dept"
# Like for like: the same masks written by hand on the raw table (what the masks cost, whoever computes them), and
# the queries with parallel workers off on both sides. PostgreSQL 15 plans no parallel scan under a subquery level
# that has initPlans (the view is a security barrier, so it stays a subquery, and the user's facts are initPlans),
# while the raw table's scan gets two workers.
hand_masked="SELECT id, 'REDACTED' AS email, encode(hmac(convert_to(ssn, 'UTF8'), '\\x00'::bytea, 'sha256'), 'hex') AS ssn, NULL::text AS phone,
    regexp_replace(name, '[0-9]', '#', 'g') AS name, state, dept, salary, born, created_at, score, note FROM bench.wide"
measure "SELECT *, against the same 4 masks written by hand on the raw table" "SELECT * FROM bench_views.wide" "$hand_masked"
serial="SET max_parallel_workers_per_gather = 0;"
measure "aggregation over unmasked columns, no parallel workers on either side" \
    "$serial SELECT dept, count(*), avg(salary), max(born) FROM bench_views.wide GROUP BY dept" \
    "$serial SELECT dept, count(*), avg(salary), max(born) FROM bench.wide GROUP BY dept"
# What the masks cost per row on their own, in the same run: the keyed hash and the regular expression over every row.
measure "the hash mask alone: HMAC-SHA-256 of every ssn (admin, raw table)" \
    "SELECT count(encode(hmac(convert_to(ssn, 'UTF8'), '\\x00'::bytea, 'sha256'), 'hex')) FROM bench.wide" "SELECT count(ssn) FROM bench.wide" admin
measure "the regular-expression mask alone over every name (admin, raw table)" \
    "SELECT count(regexp_replace(name, '[0-9]', '#', 'g')) FROM bench.wide" "SELECT count(name) FROM bench.wide" admin

log "policy: visibility by State on an indexed column"
call PUT "/policy/handler/$id" '{"jsonPolicies": [{"type": "rowOrObjectRestriction", "rules": [{"type": "visibility", "exceptions": null,
    "config": {"qualifications": {"operator": "or", "conditions": [{"type": "authorizations", "authorization": {"auth": "State"}, "field": "state"}]}}}]}]}' >/dev/null
refresh
measure "row filter on an indexed column (aggregation)" "SELECT count(*), avg(salary) FROM bench_views.wide" \
    "SELECT count(*), avg(salary) FROM bench.wide WHERE state IN ('CA')"
view_plan=$(psql "postgres://$reader:bench-reader@$pg_host:$pg_port/$wh_db" -X -q -At -c "EXPLAIN SELECT count(*), avg(salary) FROM bench_views.wide")
raw_plan=$(psql "$wh_url" -X -q -At -c "EXPLAIN SELECT count(*), avg(salary) FROM bench.wide WHERE state IN ('CA')")
stop_server

echo
echo "Enforcement benchmark — $ROWS rows × 12 columns, median of $RUNS runs timed by psql, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| query | through the view (reader) | raw table | view ÷ raw |"
echo "| --- | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "Plan through the view:"; echo '```'; echo "$view_plan"; echo '```'
echo "Plan of the hand-written WHERE:"; echo '```'; echo "$raw_plan"; echo '```'
