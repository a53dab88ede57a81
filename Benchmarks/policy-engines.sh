#!/usr/bin/env bash
# Policy decisions per second in process: Warden's evaluator with 10 policies on a source, and with 10,000 global
# policies of which 10 match; then the same decisions made by casbin and by cedarpy (PyPI), each in its own
# process, in the same run. Prints a Markdown table on stdout; progress goes to stderr.
#
#   Benchmarks/policy-engines.sh            (BENCH_SECONDS=10 per engine and case by default)
#
# Needs no database. Builds `warden-bench` in release mode into .build-bench and installs casbin and cedarpy into
# a virtual environment under .build-bench (never into the system Python).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-10}
log() { printf 'policy-engines.sh: %s\n' "$*" >&2; }

log "building warden-bench (release)"
swift build -c release --product warden-bench --scratch-path .build-bench >&2
bench=.build-bench/release/warden-bench
venv=.build-bench/venv-policy-engines
if [[ ! -x $venv/bin/python ]]; then
    log "installing casbin and cedarpy into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet casbin cedarpy >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bench" decide --print-world > "$work/world.json"

log "warden (in process)"
warden=$("$bench" decide --rounds 5)
log "casbin and cedarpy (${seconds}s per engine and case)"
"$venv/bin/python" Benchmarks/policy_engines.py "$work/world.json" "$seconds" > "$work/others.jsonl"

python3 - "$warden" "$work/others.jsonl" <<'PY'
import json, sys
warden = json.loads(sys.argv[1])
others = [json.loads(line) for line in open(sys.argv[2])]
rates = {("warden", "small"): warden["decisionsPerSecondSmall"], ("warden", "large"): warden["decisionsPerSecondLarge"]}
for row in others:
    rates[(row["engine"], row["case"])] = row["decisionsPerSecond"]
print(f"One decision: one user, one source of {warden['columns']} columns, {warden['policiesOnSource']} policies that apply.\n")
print("| engine | 10 policies (dec/s) | 10,000 policies, 10 match (dec/s) | small ÷ large | Warden ÷ engine (10) | Warden ÷ engine (10,000) |")
print("|---|---:|---:|---:|---:|---:|")
for engine in ("warden", "casbin", "cedarpy"):
    small, large = rates[(engine, "small")], rates[(engine, "large")]
    vs_small = rates[("warden", "small")] / small
    vs_large = rates[("warden", "large")] / large
    print(f"| {engine} | {small:,.1f} | {large:,.1f} | {small / large:.2f} | {vs_small:,.1f} | {vs_large:,.1f} |")
PY
