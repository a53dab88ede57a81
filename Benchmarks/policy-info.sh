#!/usr/bin/env bash
# policyInfo over HTTP: GET /dataSource/{id}/users/{profileId}/policyInfo under load (32 clients), against GET /health
# in the same run, on both metastores.
#
#   scripts/with-postgres Benchmarks/policy-info.sh
#
# The data source is a 12-column table in a warehouse database on the private server. Its columns carry tags; 10
# global policies are in force on it (masks on tagged columns, one with a group exception, a visibility rule and a
# custom WHERE), plus 90 global policies that do not match it, and a local policy. The reader is subscribed, in a
# group and has attributes, so every rule is evaluated. Each policyInfo request is a full decision from the metastore
# (nothing is cached). Prints a Markdown table on stdout.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DURATION=${BENCH_DURATION:-15s}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-32}

unset_server_env
check_prerequisites
ensure_wrk
setup_scratch
build_warden

wh_db="bench_wh_$$"
psql_admin -c "CREATE DATABASE $wh_db" >/dev/null || die "CREATE DATABASE $wh_db failed"
databases+=("$wh_db")
psql "postgres://$pg_auth@$pg_host:$pg_port/$wh_db" -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
CREATE SCHEMA bench;
CREATE TABLE bench.people (id bigint PRIMARY KEY, first_name text, last_name text, email text, ssn text, phone text,
    state text, department text, salary numeric, born date, created_at timestamptz, notes text);
INSERT INTO bench.people SELECT i, 'f' || i, 'l' || i, 'u' || i || '@example.com', lpad(i::text, 9, '0'), '555-' || i,
    (ARRAY['CA','TX','NY','WA'])[1 + i % 4], (ARRAY['HR','Sales','Eng'])[1 + i % 3], i * 10, DATE '1980-01-01' + i,
    now(), 'note' FROM generate_series(1, 1000) i;
SQL

# Sets id (data source) and reader (profile id) on the running server.
seed() {
    local handler
    handler=$(python3 - "$pg_host" "$pg_port" "$wh_db" "$pg_user" "$pg_pass" <<'PY'
import json, sys
host, port, db, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
print(json.dumps({"handler": [{"metadata": {"ssl": False, "userFiles": [], "port": port, "hostname": host, "database": db,
    "username": user, "password": password, "schema": "bench", "table": "people", "bodataSchemaName": "bench",
    "bodataTableName": "people", "dataSourceName": "People"}}], "dataSource": {"blobHandlerType": "PostgreSQL", "recordFormat": "json"},
    "schemaEvolution": {"disableSchemaEvolution": True}}))
PY
    )
    id=$(call POST /postgresql/handler "$handler" | json 'v["dataSources"][0]["dataSourceId"]')
    call POST /bim/iam/bim/user '{"userid": "reader", "profile": {"name": "Reader"}}' >/dev/null
    reader=$(call GET "/bim/user?userid=reader" | json '[h["id"] for h in v["hits"] if h["userid"] == "reader"][0]')
    call POST "/dataSource/$id/access" "{\"profileId\": $reader, \"state\": \"subscribed\"}" >/dev/null
    local group
    group=$(call POST /bim/group '{"name": "Analysts"}' | json 'v["id"]')
    call POST "/bim/group/$group/user" '{"userid": "reader"}' >/dev/null
    call PUT /bim/iam/bim/user/reader/authorizations/State/CA >/dev/null
    call PUT /bim/iam/bim/user/reader/authorizations/State/TX >/dev/null
    call POST /tag '{"tags": [{"name": "PII.Name"}, {"name": "PII.Contact"}, {"name": "PII.Id"}, {"name": "Finance"}, {"name": "Geo"}, {"name": "Unused"}]}' >/dev/null
    for pair in first_name:PII.Name last_name:PII.Name email:PII.Contact phone:PII.Contact ssn:PII.Id salary:Finance state:Geo; do
        call POST "/tag/column/${id}_${pair%%:*}" "[{\"name\": \"${pair#*:}\"}]" >/dev/null
    done
    python3 - "$work/policies.jsonl" <<'PY'
import json, sys
def mask(tag, config, exceptions=None):
    return {"type": "masking", "rules": [{"type": "masking", "exceptions": exceptions,
            "config": {"fields": [{"name": tag}], "maskingConfig": config}}]}
analysts = {"operator": "or", "conditions": [{"type": "groups", "group": {"name": "Analysts"}}]}
matching = [
    mask("PII.Name", {"type": "Consistent Value", "metadata": {}}),
    mask("PII.Contact", {"type": "Regular Expression", "metadata": {"regex": "[0-9]", "replacement": "#", "flags": "g"}}),
    mask("PII.Id", {"type": "Consistent Value", "metadata": {"constant": None}}),
    mask("Finance", {"type": "Grouping", "metadata": {"bucketSize": 1000}}, analysts),
    mask("Geo", {"type": "Consistent Value", "metadata": {"constant": "REDACTED"}}, analysts),
    {"type": "rowOrObjectRestriction", "rules": [{"type": "visibility", "exceptions": None, "config": {"qualifications": {
        "operator": "and", "conditions": [{"type": "authorizations", "authorization": {"auth": "State"}, "field": "Geo"}]}}}]},
    {"type": "rowOrObjectRestriction", "rules": [{"type": "where", "exceptions": None, "config": {"predicate": "@columnTagged('Finance') > 0"}}]},
    mask("PII", {"type": "Consistent Value", "metadata": {"constant": None}}),
    mask("PII.Name", {"type": "Consistent Value", "metadata": {"constant": None}}),
    mask("Finance", {"type": "Consistent Value", "metadata": {"constant": None}}),
]
with open(sys.argv[1], "w") as out:
    for i, action in enumerate(matching):
        print(json.dumps({"name": f"match {i}", "actions": [action],
                          "circumstances": [{"type": "columnTags", "operator": "or", "columnTag": {"name": "PII"}}]}), file=out)
    for i in range(90):
        print(json.dumps({"name": f"elsewhere {i}", "actions": [mask("Unused", {"type": "Consistent Value", "metadata": {}})],
                          "circumstances": [{"type": "columnTags", "operator": "or", "columnTag": {"name": "Unused"}}]}), file=out)
PY
    while read -r policy; do call POST /policy/global "$policy" >/dev/null; done <"$work/policies.jsonl"
    call PUT "/policy/handler/$id" '{"jsonPolicies": [{"type": "masking", "rules": [{"type": "masking", "exceptions": null,
        "config": {"fields": ["notes"], "maskingConfig": {"type": "Consistent Value", "metadata": {"constant": "n/a"}}}}]}]}' >/dev/null
    local masked
    masked=$(call GET "/dataSource/$id/users/$reader/policyInfo" | json 'len(v["masked"])')
    log "policyInfo masks $masked columns for the reader"
}

rows=()
for metastore in sqlite postgresql; do
    start_server "$metastore" WARDEN_JOB_CONCURRENCY=0
    wait_ready
    seed
    routes=("GET /health||/health" "GET policyInfo|$ADMIN_KEY|/dataSource/$id/users/$reader/policyInfo")
    measure_routes "$metastore" 2s "${routes[@]}"
    for entry in "${measured[@]}"; do
        IFS='|' read -r label p50 p99 rps ratio <<<"$entry"
        rows+=("$(awk -v m="$metastore" -v l="$label" -v p50="$p50" -v p99="$p99" -v rps="$rps" -v r="$ratio" \
            'BEGIN { printf "| %s | %s | %.2f ms | %.2f ms | %.0f | %s |", m, l, p50, p99, rps, r }')")
    done
    stop_server
    report_server_log "$metastore"
done

echo
echo "policyInfo benchmark — $(nproc) cores shared by wrk and the server, wrk -t$THREADS -c$CONNECTIONS -d$DURATION," \
     "$(date -u '+%Y-%m-%d %H:%M UTC'). 100 global policies (10 in force on the source), one local policy."
echo
echo "| metastore | route | p50 | p99 | req/s | p50 ratio to /health |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
printf '%s\n' "${rows[@]}"
for note in "${wrk_notes[@]}" "${server_log_notes[@]}"; do echo "- $note"; done
