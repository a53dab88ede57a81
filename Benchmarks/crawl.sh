#!/usr/bin/env bash
# Crawl benchmark: registering a connection to a warehouse of BENCH_TABLES (10,000) tables × 20 columns in 10
# schemas, until its crawl job has recorded every table and registered each as a data source; then an unchanged
# re-crawl. Side by side in the same run: the one raw catalog query that reads the same metadata, timed by psql.
#
#   scripts/with-postgres Benchmarks/crawl.sh
#
# Times are from the request to the first poll (every 20 ms) that sees the crawl job completed. Prints a Markdown
# table on stdout.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${BENCH_TABLES:-10000}
RUNS=${BENCH_RUNS:-5}

unset_server_env
check_prerequisites
setup_scratch
build_warden

wh_db="bench_crawl_$$"
psql_admin -c "CREATE DATABASE $wh_db" >/dev/null || die "CREATE DATABASE $wh_db failed"
databases+=("$wh_db")
wh_url="postgres://$pg_auth@$pg_host:$pg_port/$wh_db"
log "creating $TABLES tables of 20 columns"
psql "$wh_url" -X -q -v ON_ERROR_STOP=1 -v n="$TABLES" >/dev/null <<'SQL'
SELECT set_config('bench.n', :'n', false);
DO $$
DECLARE
    columns text := (SELECT string_agg(format('c%s %s', i, (ARRAY['bigint', 'text', 'numeric(12,2)', 'date', 'timestamptz'])[1 + i % 5]), ', ')
                     FROM generate_series(1, 20) i);
BEGIN
    FOR s IN 0 .. 9 LOOP
        EXECUTE format('CREATE SCHEMA %I', 's' || s);
    END LOOP;
    FOR i IN 0 .. current_setting('bench.n')::integer - 1 LOOP
        EXECUTE format('CREATE TABLE %I.%I (%s)', 's' || (i % 10), 't' || lpad(i::text, 5, '0'), columns);
    END LOOP;
END $$;
SQL

start_server sqlite
wait_ready

# await START BULK: waits for the bulk's one job, polling every 20 ms (the job's recorded time is taken before its
# transaction commits, so it would leave the commit out); prints the ms from START (ns) to the first poll that saw it
# completed, and its output.
await() {
    python3 - "$base" "$ADMIN_KEY" "$1" "$2" <<'PY' || die "the crawl did not complete"
import json, sys, time, urllib.request
base, key, start, bulk = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def get(path):
    request = urllib.request.Request(base + path, headers={"Authorization": key})
    return json.load(urllib.request.urlopen(request, timeout=60))
deadline = time.time() + 600
while time.time() < deadline:
    jobs = get("/jobs?bulkId=" + bulk)
    if jobs and jobs[0]["state"] in ("completed", "failed"):
        end = time.time_ns()
        if jobs[0]["state"] != "completed":
            sys.exit("crawl: %s" % jobs[0])
        print((end - start) // 1000000, json.dumps(jobs[0].get("output"), separators=(",", ":")))
        sys.exit(0)
    time.sleep(0.02)
sys.exit("crawl: no answer within 600 s")
PY
}

log "registering the connection (full crawl)"
start=$(date +%s%N)
bulk=$(call POST /data/connection "{\"connectionKey\": \"bench\", \"connection\": {\"technology\": \"PostgreSQL\", \"hostname\": \"$pg_host\",
    \"port\": $pg_port, \"database\": \"$wh_db\", \"authenticationType\": \"userPassword\", \"username\": \"$pg_user\",
    \"password\": \"$pg_pass\"}}" | json 'v["bulkId"]')
read -r full_ms full_output < <(await "$start" "$bulk")
log "full crawl: $full_ms ms, $full_output"
created=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["dataSourcesCreated"])' "$full_output")
[[ "$created" == "$TABLES" ]] || die "the crawl registered $created of $TABLES tables"

recrawls=()
for _ in $(seq 1 "$RUNS"); do
    start=$(date +%s%N)
    bulk=$(call POST /data/crawl/bench '{}' | json 'v["bulkId"]')
    read -r ms output < <(await "$start" "$bulk")
    python3 -c 'import json, sys; o = json.loads(sys.argv[1]); sys.exit(0 if o["objectsAdded"] == o["dataSourcesCreated"] == o["tablesWithNewColumns"] == 0 else "re-crawl changed: %s" % o)' "$output" ||
        die "the unchanged re-crawl wrote changes"
    recrawls+=("$ms")
done
recrawl_ms=$(median "${recrawls[@]}")

# The same metadata in one catalog query, as the connector sends it, timed by psql in the same run.
raw=()
for _ in $(seq 1 "$RUNS"); do
    raw+=("$(psql "$wh_url" -X -q -o /dev/null -c '\timing on' -c "
        SELECT n.nspname, c.relname, a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod),
               CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END, NOT a.attnotnull
        FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
        LEFT JOIN pg_catalog.pg_type t ON t.oid = a.atttypid LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
        WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'warden_system')
          AND n.nspname NOT LIKE 'pg!_toast%' ESCAPE '!' AND NOT c.relispartition
        ORDER BY n.nspname, c.relname, a.attnum" 2>&1 | awk '/^Time:/ { print $2 }' | tail -1)")
done
raw_ms=$(median "${raw[@]}")
stop_server

echo
echo "Crawl benchmark — $TABLES tables × 20 columns, SQLite metastore, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| step | time |"
echo "| --- | ---: |"
echo "| full crawl: connection registered → every table recorded and registered as a data source | $full_ms ms |"
echo "| unchanged re-crawl (median of $RUNS) | $recrawl_ms ms |"
echo "| the raw catalog query of the same metadata, psql (median of $RUNS) | $raw_ms ms |"
echo
awk -v t="$TABLES" -v f="$full_ms" -v r="$recrawl_ms" -v q="$raw_ms" 'BEGIN {
    printf "Tables per minute: %.0f (goal ≥ 10,000). Full crawl ÷ raw catalog query: %.1f. Re-crawl ÷ full crawl: %.3f (goal < 0.1).\n", t / (f / 60000), f / q, r / f }'
