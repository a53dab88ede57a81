"""Reads one query through snowflake-connector-python from a fakesnow server, for SnowflakeClientTests' cross-check.

    python snowflake_read.py PORT DATABASE 'SQL'   ->  JSON [[text or null, ...], ...] on stdout

Cells are printed as text the way Warden's reader writes them, so the two can be compared cell by cell.
"""
import datetime as dt
import decimal
import json
import sys

import snowflake.connector

port, database, sql = int(sys.argv[1]), sys.argv[2], sys.argv[3]
conn = snowflake.connector.connect(user="u", password="p", account="fakesnow", host="127.0.0.1", port=port, protocol="http",
                                   database=database, schema="PUBLIC")


def text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % (value.microsecond * 1000)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex().upper()
    return str(value)


print(json.dumps([[text(v) for v in row] for row in conn.cursor().execute(sql).fetchall()], ensure_ascii=False))
