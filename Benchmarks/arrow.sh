#!/usr/bin/env bash
# Arrow decoding: Warden's reader of Snowflake's Arrow results (`ArrowStream`, release build) against pyarrow reading
# the same bytes, side by side in the same run. A stream of BENCH_ROWS (100,000) rows × 6 columns as Snowflake sends
# them (NUMBER as scaled int64, NUMBER(38,4) as decimal128, TEXT, BOOLEAN, DATE, TIMESTAMP_NTZ as its epoch/fraction
# struct) is written by pyarrow; then the median of BENCH_RUNS (5) decodes each of: Warden's reader (to text, as it
# hands rows on), pyarrow's `read_all` (zero-copy columns) and pyarrow's `read_all` plus `to_pylist` (Python values).
#
#   Benchmarks/arrow.sh        # pyarrow from PyPI into .build/bench-venv
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

ROWS=${BENCH_ROWS:-100000}
RUNS=${BENCH_RUNS:-5}
venv=.build/bench-venv
[[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import pyarrow' 2>/dev/null || "$venv/bin/pip" install -q pyarrow >&2
swift build -c release --product warden-bench --scratch-path .build-bench >&2
work=$(mktemp -d /tmp/warden-arrow.XXXXXX)
trap 'rm -rf "$work"' EXIT

"$venv/bin/python" - "$ROWS" "$work/result.arrow" <<'PY'
import datetime as dt, decimal, sys
import pyarrow as pa
n, path = int(sys.argv[1]), sys.argv[2]
def sf(name, type_, logical, scale=0):
    return pa.field(name, type_).with_metadata({"logicalType": logical, "scale": str(scale), "precision": "38", "charLength": "0"})
ts = pa.StructArray.from_arrays([pa.array([1_700_000_000 + i for i in range(n)], pa.int64()), pa.array([i * 1000 % 1_000_000_000 for i in range(n)], pa.int32())],
                                fields=[pa.field("epoch", pa.int64(), nullable=False), pa.field("fraction", pa.int32(), nullable=False)])
schema = pa.schema([sf("id", pa.int64(), "FIXED"), sf("amount", pa.decimal128(38, 4), "FIXED", 4), sf("name", pa.string(), "TEXT"),
                    sf("flag", pa.bool_(), "BOOLEAN"), sf("day", pa.date32(), "DATE"), sf("at", ts.type, "TIMESTAMP_NTZ", 9)])
table = pa.Table.from_arrays([pa.array(range(n), pa.int64()), pa.array([(decimal.Decimal(i) / 7).quantize(decimal.Decimal("0.0001")) for i in range(n)], pa.decimal128(38, 4)),
                              pa.array([f"customer {i} ✓" if i % 10 else None for i in range(n)]), pa.array([i % 3 == 0 for i in range(n)]),
                              pa.array([dt.date(2020, 1, 1) + dt.timedelta(days=i % 3000) for i in range(n)]), ts], schema=schema)
sink = pa.BufferOutputStream()
with pa.ipc.new_stream(sink, schema) as writer:
    for batch in table.to_batches(max_chunksize=8192):
        writer.write_batch(batch)
open(path, "wb").write(sink.getvalue().to_pybytes())
PY

read -r warden_ms cells < <(.build-bench/release/warden-bench decode-arrow "$work/result.arrow" --runs "$RUNS")
read -r arrow_ms pylist_ms < <("$venv/bin/python" - "$work/result.arrow" "$RUNS" <<'PY'
import statistics, sys, time
import pyarrow as pa
data, runs = open(sys.argv[1], "rb").read(), int(sys.argv[2])
def timed(body):
    times = []
    for _ in range(runs):
        start = time.perf_counter(); body(); times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
read = lambda: pa.ipc.open_stream(data).read_all()
print("%.3f %.1f" % (timed(read), timed(lambda: read().to_pylist())))
PY
)
echo
echo "Arrow decoding — $ROWS rows × 6 columns ($cells cells), median of $RUNS, $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "| reader | time | Warden ÷ it |"
echo "| --- | ---: | ---: |"
echo "| Warden \`ArrowStream.read\` (every cell to text) | $warden_ms ms | 1.00 |"
awk -v w="$warden_ms" -v a="$arrow_ms" -v p="$pylist_ms" 'BEGIN {
    printf "| pyarrow `read_all` (zero-copy columns) | %.3f ms | %s |\n", a, (a > 0 ? sprintf("%.0f", w / a) : "—")
    printf "| pyarrow `read_all` + `to_pylist` (Python values) | %.1f ms | %.2f |\n", p, w / p }'
