#!/usr/bin/env bash
# View regeneration benchmark: what one global policy change costs Warden across BENCH_SOURCES (1,000) PostgreSQL
# data sources, against the same CREATE OR REPLACE VIEW statements run directly, side by side in the same run.
#
#   scripts/with-postgres Benchmarks/regeneration.sh
#
# The warehouse has BENCH_SOURCES tables of 12 columns; Warden (SQLite metastore) registers them and generates their
# views. Then a global policy (a row rule on every source) is created, and `POST /dataSource/bulkRefreshViews` for
# every source is timed until its jobs complete (the automatic refresh is held off for the run, so the timed
# refresh does all the work). The baseline is the same number of `CREATE OR REPLACE VIEW` statements, each the view
# PostgreSQL now holds, run directly by psql in one session. A second refresh must then issue no DDL: every job says
# `viewReplaced: false`, and no view's catalog row changed (its xmin). Prints a Markdown table on stdout.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SOURCES=${BENCH_SOURCES:-1000}
unset_server_env
check_prerequisites
setup_scratch
build_warden

wh_db="bench_regen_$$"
psql_admin -c "CREATE DATABASE $wh_db" >/dev/null || die "CREATE DATABASE $wh_db failed"
databases+=("$wh_db")
wh_url="postgres://$pg_auth@$pg_host:$pg_port/$wh_db"
log "creating $SOURCES tables"
psql "$wh_url" -X -q -v ON_ERROR_STOP=1 -v n="$SOURCES" >/dev/null <<'SQL'
CREATE SCHEMA bench;
SELECT set_config('bench.n', :'n', false);
DO $$
BEGIN
    FOR i IN 0 .. current_setting('bench.n')::integer - 1 LOOP
        EXECUTE format('CREATE TABLE bench.%I (id bigint PRIMARY KEY, name text, email text, ssn text, phone text, state text, dept text, '
            'amount numeric, born date, created_at timestamptz, score double precision, note text)', 't' || lpad(i::text, 4, '0'));
    END LOOP;
END $$;
SQL

start_server sqlite WARDEN_VIEW_REFRESH_INTERVAL=86400
server_dir="$work/data-$run_seq"
wait_ready
payload="$work/payload.json"
python3 - "$SOURCES" "$pg_host" "$pg_port" "$wh_db" "$pg_user" "$pg_pass" >"$payload" <<'PY'
import json, sys
n, host, port, db, user, password = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], sys.argv[6]
print(json.dumps({"handler": [{"metadata": {"ssl": False, "userFiles": [], "port": port, "hostname": host, "database": db,
    "username": user, "password": password, "schema": "bench", "table": "t%04d" % i, "nativeSchemaName": "bench_views",
    "nativeViewName": "t%04d" % i}} for i in range(n)], "dataSource": {"blobHandlerType": "PostgreSQL", "recordFormat": "json"}}))
PY
log "registering $SOURCES sources"
ids=$(call POST /postgresql/handler "@$payload" | python3 -c 'import json, sys; print(json.dumps([s["dataSourceId"] for s in json.load(sys.stdin)["dataSources"]]))')

# refresh: refreshes every source's view and waits for the jobs; prints the ms from the request to the last job's
# completion, and how many views were replaced.
refresh() {
    local start bulk jobs
    start=$(date +%s%N)
    bulk=$(call POST /dataSource/bulkRefreshViews "{\"dataSourceIds\": $ids}" | json 'v["bulkId"]')
    log "bulkRefreshViews answered after $(( ($(date +%s%N) - start) / 1000000 )) ms"
    jobs=$(call GET "/jobs?bulkId=$bulk" | python3 -c 'import json, sys; print(json.dumps([j["id"] for j in json.load(sys.stdin)]))')
    call POST /jobs/statuses "{\"jobIds\": $jobs, \"wait\": 600, \"pollInterval\": 1}" >"$work/statuses.json"
    # The end is when the last job was recorded, read from the metastore: the status route polls by whole seconds.
    python3 - "$work/statuses.json" "$SOURCES" "$start" "$server_dir/warden.sqlite" "$bulk" <<'PY' || die "the view refresh did not complete"
import json, sqlite3, sys
states = json.load(open(sys.argv[1]))
bad = [s for s in states.values() if s["state"] != "completed"]
if bad or len(states) != int(sys.argv[2]):
    sys.exit("refresh: %d jobs, failures: %s" % (len(states), bad[:3]))
end = sqlite3.connect(sys.argv[4]).execute("SELECT max(updated_at) FROM jobs WHERE bulk_id = ?", (sys.argv[5],)).fetchone()[0]
print(end - int(sys.argv[3]) // 1000000, sum(1 for s in states.values() if s["output"].get("viewReplaced")))
PY
}
views_xmin() { psql "$wh_url" -X -At -c "SELECT sum(xmin::text::bigint) FROM pg_class WHERE relnamespace = 'bench_views'::regnamespace AND relkind = 'v'"; }

log "generating the views"
read -r first_ms first_replaced < <(refresh)
log "first generation: $first_ms ms, $first_replaced replaced"
call POST /policy/global '{"type": "data", "name": "Positive amounts", "actions": [{"type": "rowOrObjectRestriction",
    "rules": [{"type": "where", "config": {"predicate": "amount > 0"}, "exceptions": null}]}]}' >/dev/null
log "regenerating after the global policy change"
read -r regen_ms regen_replaced < <(refresh)
[[ "$regen_replaced" == "$SOURCES" ]] || die "the global policy change replaced $regen_replaced of $SOURCES views"
grep -q "amount" <(psql "$wh_url" -X -At -c "SELECT definition FROM pg_views WHERE schemaname = 'bench_views' LIMIT 1") ||
    die "the regenerated view does not hold the global policy's row rule"

before=$(views_xmin)
read -r second_ms second_replaced < <(refresh)
after=$(views_xmin)
[[ "$before" == "$after" ]] && ddl=0 || ddl="views changed"

# The baseline: the same views, as PostgreSQL holds them, replaced directly.
psql "$wh_url" -X -At -c "SELECT format('CREATE OR REPLACE VIEW %I.%I AS %s', schemaname, viewname, definition) FROM pg_views WHERE schemaname = 'bench_views'" \
    >"$work/replace.sql"
statements=$(grep -c "^CREATE OR REPLACE VIEW" "$work/replace.sql")
start=$(date +%s%N)
psql "$wh_url" -X -q -v ON_ERROR_STOP=1 -f "$work/replace.sql" >/dev/null || die "the direct statements failed"
direct_ms=$(( ($(date +%s%N) - start) / 1000000 ))
stop_server

echo
echo "View regeneration benchmark — $SOURCES PostgreSQL data sources, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| step | time | views replaced |"
echo "| --- | ---: | ---: |"
echo "| first generation (bulkRefreshViews, every source) | $first_ms ms | $first_replaced |"
echo "| after one global policy change (bulkRefreshViews, every source) | $regen_ms ms | $regen_replaced |"
echo "| the same $statements CREATE OR REPLACE VIEW statements run directly by psql | $direct_ms ms | $statements |"
echo "| second refresh, nothing changed | $second_ms ms | $second_replaced (DDL on views: $ddl) |"
echo
awk -v w="$regen_ms" -v d="$direct_ms" 'BEGIN { printf "Regeneration through Warden ÷ direct statements: %.2f (goal ≤ 2)\n", w / d }'
