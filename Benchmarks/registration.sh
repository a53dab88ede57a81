#!/usr/bin/env bash
# Registration benchmark: one POST /postgresql/handler registering 1,000 tables of 20 columns, on both
# metastores, against the raw catalog query for the same tables measured side by side.
#
#   scripts/with-postgres Benchmarks/registration.sh
#
# Setup: a warehouse database `bench_wh_<random>` on the server in WARDEN_TEST_POSTGRES_URL (which
# scripts/with-postgres provides) with schema `bench` and TABLES tables `bench.t0000 …`, each with 20 columns
# of varied types (some NOT NULL) and 3 rows. One POST body with a handler entry per table is generated once.
#
# For each metastore (sqlite in a fresh --data-dir; postgresql in a fresh database on the same server):
#   1. baseline: BASELINE_RUNS fresh psql sessions against the warehouse, each sending the connector's own
#      statements for the same tables (PostgresCatalogSQL.swift): the catalog query `describe` in chunks of
#      500 tables, then, as the row-count reference, the existence check (chunks of 500) and the
#      `COUNT(*) … UNION ALL` batches (chunks of 200). Bound parameters are written as text literals
#      ('t0000'::text, the type PostgresNIO binds a String as), so the plans are the connector's. Each
#      statement is timed by psql's `\timing` (client side, send to last row received; connecting excluded);
#      the chunks of one session are summed and the median over the sessions is shown;
#   2. registration: RUNS times, each on a fresh server (fresh data dir / database): `warden serve` (release
#      build) with WARDEN_JOB_CONCURRENCY=0, so the 1,000 high-cardinality jobs the registration enqueues
#      stay queued instead of competing with the measurement; a Bearer token is fetched first, then the
#      POST is timed end to end by curl (`%{time_total}`). It must answer 200 with 1,000 dataSources; after
#      the first run, GET /dictionary/<id> of the first, middle and last data source must list the 20
#      columns. The median over the runs is shown.
# The result is a Markdown table on stdout (progress goes to stderr); nothing is written to the repository.
#
# NOTE: psql, curl, warden and the PostgreSQL server share this machine's cores (2 on the reference
# machine). The POST does much more than the catalog query (parsing, the row counts, the metastore
# transaction, the response), so the ratio is an overhead factor, to compare between runs and revisions.
#
# Needs: swift, curl, python3, psql.
# Tunables (environment): BENCH_TABLES (1000), BENCH_RUNS (3), BENCH_BASELINE_RUNS (5),
#                         BENCH_POST_TIMEOUT (600 seconds).
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${BENCH_TABLES:-1000}
RUNS=${BENCH_RUNS:-3}
BASELINE_RUNS=${BENCH_BASELINE_RUNS:-5}
POST_TIMEOUT=${BENCH_POST_TIMEOUT:-600}
COLUMNS_PER_TABLE=20
# The connector's chunk sizes (PostgresCatalogSQL.tablesPerCatalogQuery and tablesPerCountQuery).
CATALOG_CHUNK=500
COUNT_CHUNK=200
DEFAULT_MAX_BODY_SIZE=10485760

# Only what this script passes may configure the server.
unset_server_env
unset WARDEN_JOB_CONCURRENCY WARDEN_JOB_LEASE_SECONDS WARDEN_WAREHOUSE_CONNECT_TIMEOUT WARDEN_WAREHOUSE_TIMEOUT

for var in TABLES RUNS BASELINE_RUNS POST_TIMEOUT; do
    [[ "${!var}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$var must be a positive whole number, got \"${!var}\""
done
(( TABLES <= 10000 )) || die "BENCH_TABLES must be at most 10000 (table names are t0000 … t9999)"

# --- Prerequisites, scratch state, cleanup and build --------------------------------
check_prerequisites
setup_scratch
build_warden

# --- Warehouse --------------------------------------------------------------------
wh_db="bench_wh_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
wh_url="postgres://$pg_auth@$pg_host:$pg_port/$wh_db"
log "creating warehouse database $wh_db: schema bench, $TABLES tables of $COLUMNS_PER_TABLE columns, 3 rows each"
psql_admin -c "CREATE DATABASE $wh_db" >/dev/null || die "CREATE DATABASE $wh_db failed"
databases+=("$wh_db")
setup_start=$(date +%s%N)
# One DO block; it commits every 100 tables so the lock table never has to hold them all at once.
psql "$wh_url" -X -q -v ON_ERROR_STOP=1 -v tables="$TABLES" >/dev/null <<'SQL' || die "creating the warehouse tables failed"
CREATE SCHEMA bench;
SELECT set_config('bench.tables', :'tables', false);
DO $$
DECLARE
    n integer := current_setting('bench.tables')::integer;
    t text;
BEGIN
    FOR i IN 0 .. n - 1 LOOP
        t := 't' || lpad(i::text, 4, '0');
        EXECUTE format($f$
            CREATE TABLE bench.%I (
                id          integer       NOT NULL PRIMARY KEY,
                account_id  bigint        NOT NULL,
                name        text          NOT NULL,
                code        varchar(64),
                amount      numeric(12,2),
                active      boolean       NOT NULL,
                birth_date  date,
                created_at  timestamp     NOT NULL,
                updated_at  timestamptz,
                attributes  json,
                external_id uuid,
                score       double precision,
                ratio       real,
                rank        smallint,
                tags        text[],
                flag        char(1),
                payload     jsonb,
                blob        bytea,
                open_at     time,
                note        varchar(255)
            )$f$, t);
        EXECUTE format($f$
            INSERT INTO bench.%I
            SELECT g, g * 1000000000::bigint, 'name ' || g, 'code-' || g, g * 12.34, g %% 2 = 0,
                   date '2020-01-01' + g, timestamp '2024-01-01 12:00' + g * interval '1 hour',
                   timestamptz '2024-01-01 12:00+00' + g * interval '1 day', json_build_object('g', g),
                   md5(%L || g)::uuid, g / 3.0, g / 7.0, g, ARRAY['a' || g, 'b'], chr(64 + g),
                   jsonb_build_object('k', g), decode(md5(g::text), 'hex'), time '08:00' + g * interval '1 minute',
                   'note ' || g
            FROM generate_series(1, 3) AS g$f$, t, t);
        IF i % 100 = 99 THEN COMMIT; END IF;
    END LOOP;
END
$$;
ANALYZE;
SQL
setup_ms=$(( ($(date +%s%N) - setup_start) / 1000000 ))
created=$(psql "$wh_url" -X -qAt -c "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                                      WHERE n.nspname = 'bench' AND c.relkind = 'r'") || die "counting the warehouse tables failed"
[[ "$created" == "$TABLES" ]] || die "expected $TABLES tables in $wh_db.bench, found $created"
log "warehouse ready in $setup_ms ms"

# --- Baseline SQL: the connector's statements for the same tables ------------------
# baseline.sql: what one registration sends, in order, timed by psql; check.sql: the catalog statements
# wrapped in count(*), to check once that they describe every column.
python3 - "$TABLES" "$CATALOG_CHUNK" "$COUNT_CHUNK" "$work" <<'PY'
import sys

tables, catalog_chunk, count_chunk = (int(v) for v in sys.argv[1:4])
work = sys.argv[4]
names = [("bench", "t%04d" % i) for i in range(tables)]
kinds = "c.relkind IN ('r', 'v', 'm', 'f', 'p')"


def chunks(items, size):
    return [items[i:i + size] for i in range(0, len(items), size)]


def lit(text):
    # PostgresNIO binds a Swift String as `text`; a typed literal gives the planner the same thing.
    return "'" + text.replace("'", "''") + "'::text"


def table_filter(chunk):
    return "(" + " OR ".join("(n.nspname = %s AND c.relname = %s)" % (lit(s), lit(t)) for s, t in chunk) + ")"


def ident(name):
    return '"' + name.replace('"', '""') + '"'


# PostgresCatalogSQL.describe, one statement per chunk of tablesPerCatalogQuery tables.
describe = ["""SELECT n.nspname, c.relname, a.attname,
       pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN t.typtype = 'd' THEN bt.typname ELSE t.typname END,
       NOT a.attnotnull
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_type bt ON bt.oid = t.typbasetype
WHERE a.attnum > 0 AND NOT a.attisdropped AND %s AND %s
ORDER BY n.nspname, c.relname, a.attnum""" % (kinds, table_filter(chunk)) for chunk in chunks(names, catalog_chunk)]
# PostgresConnector.rowCounts: PostgresCatalogSQL.existing per catalog chunk, then rowCounts per count chunk.
existing = ["""SELECT n.nspname, c.relname
FROM pg_catalog.pg_class c
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE %s AND %s""" % (kinds, table_filter(chunk)) for chunk in chunks(names, catalog_chunk)]
counts = ["\nUNION ALL\n".join("SELECT CAST(%d AS INTEGER), COUNT(*) FROM %s.%s" % (i, ident(s), ident(t))
                                for i, (s, t) in enumerate(chunk)) for chunk in chunks(names, count_chunk)]

with open(work + "/baseline.sql", "w") as out:
    # Results go to /dev/null; psql prints the `Time:` lines on stdout all the same.
    out.write("\\set ON_ERROR_STOP 1\n\\o /dev/null\n\\timing on\n")
    out.write("".join(statement + ";\n" for statement in describe + existing + counts))
with open(work + "/check.sql", "w") as out:
    out.write("".join("SELECT count(*) FROM (%s) AS q;\n" % statement for statement in describe))
PY
baseline_sql="$work/baseline.sql"
catalog_statements=$(( (TABLES + CATALOG_CHUNK - 1) / CATALOG_CHUNK ))
count_statements=$(( catalog_statements + (TABLES + COUNT_CHUNK - 1) / COUNT_CHUNK ))
all_statements=$(( catalog_statements + count_statements ))

# Once: the catalog statements describe TABLES x 20 columns.
columns_found=$(psql "$wh_url" -X -qAt -v ON_ERROR_STOP=1 -f "$work/check.sql" | awk '{ s += $1 } END { print s + 0 }') ||
    die "the baseline catalog query failed"
[[ "$columns_found" == $(( TABLES * COLUMNS_PER_TABLE )) ]] ||
    die "the baseline catalog query returned $columns_found columns, expected $(( TABLES * COLUMNS_PER_TABLE ))"

# run_baseline: BASELINE_RUNS fresh psql sessions (fresh backends, as a fresh Warden's warehouse pool has);
# sets catalog_ms and counts_ms (medians, ms) and catalog_all / counts_all (every session's sum).
run_baseline() {
    local i out times catalog=() counts=()
    for i in $(seq 1 "$BASELINE_RUNS"); do
        out=$(psql "$wh_url" -X -q -f "$baseline_sql" 2>&1) || { printf '%s\n' "$out" >&2; die "the baseline queries failed"; }
        times=$(printf '%s\n' "$out" | sed -n -E 's/^Time: ([0-9.]+) ms.*/\1/p')
        [[ $(printf '%s\n' "$times" | grep -c .) -eq $all_statements ]] ||
            die "expected $all_statements timings from psql, got: $out"
        catalog+=("$(printf '%s\n' "$times" | head -n "$catalog_statements" | awk '{ s += $1 } END { printf "%.1f", s }')")
        counts+=("$(printf '%s\n' "$times" | tail -n +"$((catalog_statements + 1))" | awk '{ s += $1 } END { printf "%.1f", s }')")
    done
    catalog_ms=$(median "${catalog[@]}")
    counts_ms=$(median "${counts[@]}")
    catalog_all="${catalog[*]}"
    counts_all="${counts[*]}"
}

# --- POST body ----------------------------------------------------------------------
payload="$work/payload.json"
python3 - "$TABLES" "$pg_host" "$pg_port" "$wh_db" "$pg_user" "$pg_pass" >"$payload" <<'PY'
import json
import sys

tables, host, port, database, user, password = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), *sys.argv[4:7]
# The shape of Tests/WardenAppTests/WarehouseHelpers.swift's registrationPayload.
handlers = [{"metadata": {"ssl": False, "userFiles": [], "port": port, "hostname": host, "database": database,
                          "username": user, "password": password, "schemaProjectName": "Bench", "staleDataTolerance": 86400,
                          "table": "t%04d" % i, "schema": "bench", "nativeViewName": "t%04d_immuta" % i,
                          "nativeSchemaName": "bench_immuta", "ca": []}} for i in range(tables)]
body = {"handler": handlers,
        "dataSource": {"blobHandler": {"scheme": "https", "url": ""}, "blobHandlerType": "PostgreSQL", "recordFormat": "",
                       "type": "queryable", "schemaEvolutionId": None, "columnEvolutionEnabled": True, "private": False},
        "schemaEvolution": {"ownerProfileId": 2, "config": {"nameTemplate": {
            "nameFormat": "<Schema> <Tablename>", "tableFormat": "<tablename>", "sqlSchemaNameFormat": "<schema>",
            "schemaProjectNameFormat": "<Schema>"}}, "schemas": []}}
json.dump(body, sys.stdout, separators=(",", ":"))
PY
payload_bytes=$(wc -c <"$payload")
max_body_size=
if (( payload_bytes > DEFAULT_MAX_BODY_SIZE / 2 )); then
    max_body_size=$(( payload_bytes * 2 ))
fi
log "POST body: $TABLES handlers, $payload_bytes bytes${max_body_size:+ (WARDEN_MAX_BODY_SIZE=$max_body_size)}"

# Extra environment of every server: the jobs the registration enqueues stay queued.
server_env=(WARDEN_JOB_CONCURRENCY=0)
[[ -z "$max_body_size" ]] || server_env+=(WARDEN_MAX_BODY_SIZE="$max_body_size")

# register: times one POST /postgresql/handler on the running server; sets post_s and ids (data source ids).
register() {
    local what=$1 token out="$work/post-$run_seq.json" result code seconds checked
    fetch_token
    # `Expect:` keeps curl from waiting for a 100 Continue before sending a large body.
    result=$(curl -s -o "$out" -w '%{http_code} %{time_total}' --max-time "$POST_TIMEOUT" -X POST "$base/postgresql/handler" \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' -H 'Expect:' --data-binary "@$payload") || {
        log "curl failed (exit $?) after: ${result:-nothing}"
        report_server_log "$what"
        die "POST /postgresql/handler failed or did not answer within $POST_TIMEOUT s ($what)"
    }
    read -r code seconds <<<"$result"
    if [[ "$code" != 200 ]]; then
        log "POST /postgresql/handler answered $code after $seconds s:"
        head -c 4000 "$out" >&2; echo >&2
        report_server_log "$what"
        die "POST /postgresql/handler did not answer 200 ($what)"
    fi
    checked=$(python3 - "$out" "$TABLES" <<'PY'
import json
import sys

reply = json.load(open(sys.argv[1]))
sources = reply.get("dataSources") or []
expected = int(sys.argv[2])
if len(sources) != expected:
    sys.exit("expected %d dataSources, got %d" % (expected, len(sources)))
tables = sorted(s["sqlTableName"] for s in sources)
if tables != ["t%04d" % i for i in range(expected)]:
    sys.exit("the dataSources are not t0000 ... t%04d" % (expected - 1))
warnings = [s for s in sources if s.get("warnings")]
if warnings:
    sys.exit("%d dataSources carry warnings, e.g. %s" % (len(warnings), warnings[0]))
ids = [s["dataSourceId"] for s in sources]
print(" ".join(str(i) for i in (ids[0], ids[len(ids) // 2], ids[-1])))
PY
    ) || die "unexpected POST /postgresql/handler response ($what; body in $out)"
    post_s=$seconds
    ids=$checked
    post_token=$token
}

# verify_dictionaries: GET /dictionary/<id> lists the 20 columns of the bench tables, in order, with types.
verify_dictionaries() {
    local id out code
    for id in $ids; do
        out="$work/dictionary-$id.json"
        code=$(curl -s -o "$out" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $post_token" "$base/dictionary/$id") || true
        [[ "$code" == 200 ]] || { cat "$out" >&2; echo >&2; die "GET /dictionary/$id answered $code"; }
        python3 - "$out" "$COLUMNS_PER_TABLE" <<'PY' || die "GET /dictionary/$id: unexpected dictionary (in $out)"
import json
import sys

expected = ["id", "account_id", "name", "code", "amount", "active", "birth_date", "created_at", "updated_at", "attributes",
            "external_id", "score", "ratio", "rank", "tags", "flag", "payload", "blob", "open_at", "note"]
columns = json.load(open(sys.argv[1]))["metadata"]
names = [c["name"] for c in columns]
if len(columns) != int(sys.argv[2]) or names != expected:
    sys.exit("got %d columns: %s" % (len(columns), names))
if not all(c.get("dataType") and c.get("remoteType") for c in columns):
    sys.exit("columns without dataType/remoteType: %s" % columns)
if [c.get("nullable") for c in columns][:3] != [False, False, False]:
    sys.exit("id, account_id and name should not be nullable: %s" % columns[:3])
PY
    done
    log "  GET /dictionary/{$(tr ' ' , <<<"$ids")}: $COLUMNS_PER_TABLE columns each, as created"
}

# --- Measurements -----------------------------------------------------------------
rows=()
details=()
server_log_notes=()

for metastore in sqlite postgresql; do
    log "$metastore: baseline, $BASELINE_RUNS psql sessions ($catalog_statements catalog + $count_statements row-count statements each)"
    run_baseline
    log "  catalog query: $catalog_all ms (median $catalog_ms); row counts: $counts_all ms (median $counts_ms)"

    times=()
    for i in $(seq 1 "$RUNS"); do
        start_server "$metastore" "${server_env[@]}"
        wait_ready
        register "$metastore run $i"
        times+=("$post_s")
        log "$metastore POST $i/$RUNS: $post_s s, 200, $TABLES dataSources"
        if [[ $i -eq 1 ]]; then verify_dictionaries; fi
        stop_server
        report_server_log "$metastore run $i"
    done
    post=$(median "${times[@]}")
    row=$(awk -v m="$metastore" -v n="$TABLES" -v p="$post" -v c="$catalog_ms" \
        'BEGIN { printf "| %s | %d | %.3f | %.0f | %.1f | %.0f |", m, n, p, n / p, c, p * 1000 / c }')
    rows+=("$row")
    both=$(awk -v p="$post" -v c="$catalog_ms" -v r="$counts_ms" 'BEGIN { printf "%.0f", p * 1000 / (c + r) }')
    details+=("$metastore: POST ${times[*]} s; catalog query $catalog_all ms; row counts $counts_all ms (median $counts_ms ms; POST / (catalog query + row counts) = $both)")
done

# --- Report -----------------------------------------------------------------------
echo
echo "Registration benchmark — warden $("$BIN" --version 2>/dev/null || echo '?'), $(nproc) cores shared by psql, curl," \
     "warden and PostgreSQL, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "One POST /postgresql/handler with $TABLES tables of $COLUMNS_PER_TABLE columns (schema bench, 3 rows each), median of" \
     "$RUNS runs, each on a fresh metastore; raw catalog query: the connector's describe statement(s) for the same tables" \
     "($catalog_statements x up to $CATALOG_CHUNK tables) in psql, median of $BASELINE_RUNS sessions."
echo
echo "| metastore | tables | POST median (s) | tables/s | raw catalog query median (ms) | ratio POST / raw query |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "The ratio is how many times longer registering the tables through Warden takes (HTTP, parsing, the catalog" \
     "query, the row counts, one metastore transaction with $TABLES data sources, handlers, members, dictionaries," \
     "$(( TABLES * COLUMNS_PER_TABLE )) dictionary columns and $TABLES jobs, the response) than the catalog query alone." \
     "Both run on the same $(nproc)-core machine, which also runs PostgreSQL (warehouse and postgresql metastore)."
echo "The server ran with WARDEN_JOB_CONCURRENCY=0: the high-cardinality jobs the registration enqueues were not run," \
     "so they did not compete with the measurement."
echo
echo "Row-count reference: the connector's existence check ($catalog_statements x up to $CATALOG_CHUNK tables) and" \
     "COUNT(*) UNION ALL batches ($((count_statements - catalog_statements)) x up to $COUNT_CHUNK tables), timed in the" \
     "same psql sessions right after the catalog query (not part of the ratio in the table)."
echo
for note in "${details[@]}" "${server_log_notes[@]}"; do
    echo "- $note"
done
