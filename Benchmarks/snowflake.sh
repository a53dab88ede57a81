#!/usr/bin/env bash
# Snowflake registration: `POST /snowflake/handler` with BENCH_TABLES (200) tables of 20 columns, against a fakesnow
# server (Snowflake's connector protocol over DuckDB), timed until the answer; side by side in the same run, the same
# catalog query (information_schema.columns for those tables) run through snowflake-connector-python. Median of
# BENCH_RUNS (3), each registration on a fresh Warden (SQLite metastore).
#
#   scripts/with-postgres Benchmarks/snowflake.sh      # fakesnow from PyPI into .build/fakesnow-venv
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TABLES=${BENCH_TABLES:-200}
RUNS=${BENCH_RUNS:-3}

unset_server_env
check_prerequisites
setup_scratch
build_warden

venv=.build/fakesnow-venv
if [[ ! -x "$venv/bin/python" ]] || ! "$venv/bin/python" -c 'import fakesnow.server, snowflake.connector' 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet 'fakesnow[server]==0.12.1' 'snowflake-connector-python<5'
fi
snow_port=$(free_port)
"$venv/bin/python" -m fakesnow -s -p "$snow_port" >"$work/fakesnow.log" 2>&1 &
snow_pid=$!
trap 'kill $snow_pid 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 200); do
    curl -s -o /dev/null -X POST "http://127.0.0.1:$snow_port/session/v1/login-request" -H 'Content-Type: application/json' \
        -d '{"data": {"SESSION_PARAMETERS": {}}}' && break
    sleep 0.1
done

log "creating $TABLES tables of 20 columns in fakesnow"
"$venv/bin/python" - "$snow_port" "$TABLES" <<'PY'
import sys
import snowflake.connector
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = snowflake.connector.connect(user="u", password="p", account="fakesnow", host="127.0.0.1", port=port, protocol="http")
cur = conn.cursor()
cur.execute("CREATE DATABASE IF NOT EXISTS BENCH")
cur.execute("CREATE SCHEMA IF NOT EXISTS BENCH.PUBLIC")
columns = ", ".join(f"C{i} {['NUMBER(18,0)', 'VARCHAR', 'NUMBER(12,2)', 'DATE', 'TIMESTAMP_NTZ'][i % 5]}" for i in range(20))
for i in range(n):
    cur.execute(f"CREATE TABLE BENCH.PUBLIC.T{i:04d} ({columns})")
PY

payload="$work/payload.json"
python3 - "$snow_port" "$TABLES" >"$payload" <<'PY'
import json, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
print(json.dumps({"handler": [{"metadata": {"ssl": False, "port": port, "hostname": "127.0.0.1", "database": "BENCH", "username": "u",
    "password": "p", "schema": "PUBLIC", "table": "T%04d" % i}} for i in range(n)], "dataSource": {"blobHandlerType": "Snowflake", "recordFormat": ""}}))
PY

warden=()
for _ in $(seq 1 "$RUNS"); do
    start_server sqlite
    wait_ready
    start=$(date +%s%N)
    created=$(call POST /snowflake/handler "@$payload" | json 'len(v["dataSources"])')
    warden+=("$(( ($(date +%s%N) - start) / 1000000 ))")
    [[ "$created" == "$TABLES" ]] || die "registered $created of $TABLES tables"
    stop_server
done

python_ms=$("$venv/bin/python" - "$snow_port" "$TABLES" "$RUNS" <<'PY'
import statistics, sys, time
import snowflake.connector
port, n, runs = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
times = []
for _ in range(runs):
    start = time.perf_counter()
    conn = snowflake.connector.connect(user="u", password="p", account="fakesnow", host="127.0.0.1", port=port, protocol="http",
                                       database="BENCH", schema="PUBLIC")
    filter = " OR ".join(["(table_schema = %s AND table_name = %s)"] * n)
    params = [v for i in range(n) for v in ("PUBLIC", "T%04d" % i)]
    rows = conn.cursor().execute("SELECT table_schema, table_name, column_name, data_type, is_nullable, numeric_precision, numeric_scale, "
                                 "character_maximum_length FROM information_schema.columns WHERE " + filter +
                                 " ORDER BY table_schema, table_name, ordinal_position", params).fetchall()
    assert len(rows) == 20 * n, len(rows)
    conn.close()
    times.append((time.perf_counter() - start) * 1000)
print("%.0f" % statistics.median(times))
PY
)
warden_ms=$(median "${warden[@]}")
echo
echo "Snowflake registration — $TABLES tables × 20 columns against fakesnow, median of $RUNS, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| step | time |"
echo "| --- | ---: |"
echo "| \`POST /snowflake/handler\` ($TABLES data sources, catalog, row counts, metastore) | $warden_ms ms |"
echo "| the catalog query alone through snowflake-connector-python (sign-in included) | $python_ms ms |"
echo
awk -v w="$warden_ms" -v p="$python_ms" 'BEGIN { printf "Registration ÷ the Python connector catalog query: %.2f\n", w / p }'
