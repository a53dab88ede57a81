"""Writes the Arrow IPC fixtures of ArrowStreamTests with pyarrow, and the text each cell must read as.

    python Tests/Peers/arrow_fixtures.py    # needs pyarrow; the outputs are committed

Each fixture is NAME.arrow (an IPC stream, as Snowflake's rowsetBase64 holds) and NAME.json ({"fields": [...],
"rows": [[text or null, ...], ...]}): what Warden's reader must make of it, written here from the values pyarrow
was given, not from Warden's reader.
"""
import datetime as dt
import decimal
import json
import pathlib

import pyarrow as pa

OUT = pathlib.Path(__file__).resolve().parent.parent / "WardenConnectorsTests" / "ArrowFixtures"


def write(name, table, rows, batch_rows=None):
    OUT.mkdir(exist_ok=True)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        for batch in table.to_batches(max_chunksize=batch_rows):
            writer.write_batch(batch)
    (OUT / f"{name}.arrow").write_bytes(sink.getvalue().to_pybytes())
    (OUT / f"{name}.json").write_text(json.dumps({"fields": table.schema.names, "rows": rows}, ensure_ascii=False, indent=1) + "\n")


def snowflake(field, logical, scale=0, precision=38):
    return field.with_metadata({"logicalType": logical, "scale": str(scale), "precision": str(precision), "charLength": "0"})


# Plain types, nulls among them.
ints = [1, -2, None, 127]
texts = ["plain", "", None, "héllo ✓ 🙂"]
flags = [True, False, None, True]
doubles = [1.5, -0.25, None, 1e300]
table = pa.table({
    "i8": pa.array(ints, pa.int8()), "i16": pa.array([300, -300, None, 32767], pa.int16()),
    "i32": pa.array([70000, -70000, None, 2**31 - 1], pa.int32()), "i64": pa.array([2**40, -(2**63), None, 2**63 - 1], pa.int64()),
    "f64": pa.array(doubles, pa.float64()), "text": pa.array(texts, pa.string()), "flag": pa.array(flags, pa.bool_()),
})
rows = []
for i in range(4):
    rows.append([
        None if ints[i] is None else str(ints[i]), None if i == 2 else str([300, -300, None, 32767][i]),
        None if i == 2 else str([70000, -70000, None, 2**31 - 1][i]), None if i == 2 else str([2**40, -(2**63), None, 2**63 - 1][i]),
        None if doubles[i] is None else repr(doubles[i]), texts[i], None if flags[i] is None else str(flags[i]).lower(),
    ])
write("plain", table, rows)

# As Snowflake sends them: NUMBER(10,2) as scaled integers, NUMBER(38,4) as decimal128, DATE as days, TIME as
# nanoseconds, TIMESTAMP_NTZ as a struct of epoch seconds and nanosecond fraction, BINARY.
amounts = [12345, -5, None, 0]
decimals = [decimal.Decimal("123456789012345678901234.5678"), decimal.Decimal("-0.0001"), None, decimal.Decimal("0")]
days = [dt.date(1970, 1, 1), dt.date(2024, 2, 29), None, dt.date(1900, 12, 31)]
times = [0, 13 * 3600 * 10**9 + 5 * 60 * 10**9 + 7 * 10**9 + 123, None, 86399 * 10**9]
epochs = [0, 1709164800, None, -1]
fractions = [0, 500000000, 0, 999999999]
blobs = [b"\x00\xff", b"", None, b"AB"]
struct = pa.StructArray.from_arrays([pa.array(epochs, pa.int64()), pa.array(fractions, pa.int32())],
                                    fields=[pa.field("epoch", pa.int64(), nullable=False), pa.field("fraction", pa.int32(), nullable=False)],
                                    mask=pa.array([False, False, True, False]))
schema = pa.schema([
    snowflake(pa.field("amount", pa.int64()), "FIXED", 2, 10), snowflake(pa.field("big", pa.decimal128(38, 4)), "FIXED", 4),
    snowflake(pa.field("day", pa.date32()), "DATE"), snowflake(pa.field("at", pa.int64()), "TIME", 9),
    snowflake(pa.field("ts", struct.type), "TIMESTAMP_NTZ", 9), snowflake(pa.field("raw", pa.binary()), "BINARY"),
])
table = pa.Table.from_arrays([pa.array(amounts, pa.int64()), pa.array(decimals, pa.decimal128(38, 4)), pa.array(days, pa.date32()),
                              pa.array(times, pa.int64()), struct, pa.array(blobs, pa.binary())], schema=schema)
def scaled(value, scale):
    return None if value is None else format(decimal.Decimal(value).scaleb(-scale), f".{scale}f")
def timestamp(epoch, fraction):
    if epoch is None:
        return None
    return (dt.datetime(1970, 1, 1) + dt.timedelta(seconds=epoch)).strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % fraction
rows = []
for i in range(4):
    rows.append([
        scaled(amounts[i], 2), None if decimals[i] is None else str(decimals[i].quantize(decimal.Decimal("0.0001"))),
        # TIME arrives as a scaled integer like NUMBER: nanoseconds, scale 9.
        None if days[i] is None else days[i].isoformat(), scaled(times[i], 9),
        timestamp(epochs[i], fractions[i]), None if blobs[i] is None else blobs[i].hex().upper(),
    ])
write("snowflake", table, rows)

# Many rows in several record batches (Snowflake's chunks are separate streams; one stream may hold several batches).
n = 2500
table = pa.table({"id": pa.array(range(n), pa.int64()), "name": pa.array([f"name {i}" if i % 7 else None for i in range(n)])})
write("batches", table, [[str(i), f"name {i}" if i % 7 else None] for i in range(n)], batch_rows=1000)
