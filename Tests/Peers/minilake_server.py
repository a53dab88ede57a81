"""minilake (PyPI: a Databricks API emulator over DuckDB) for Warden's tests.

minilake serves the Statement Execution API but ignores a statement's named `parameters`. Databricks binds them; so
that Warden's connector can send the same requests to both, this wrapper binds them in front of minilake: each `:name`
marker outside quotes becomes the parameter's value as a DuckDB string literal. Nothing else is changed.

Usage: python minilake_server.py PORT DATA_DIR
"""

import json
import os
import sys

port, data_dir = int(sys.argv[1]), sys.argv[2]
os.environ.setdefault("MINILAKE_DATA_DIR", data_dir)
os.environ.setdefault("MINILAKE_SERVICES", "sql_statements,sql_warehouses,unity_catalog")
os.environ.setdefault("MINILAKE_NOTEBOOK", "0")

import uvicorn  # noqa: E402
from minilake.app import create_app  # noqa: E402


def literal(value):
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def bind(sql, parameters):
    values = {p["name"]: p.get("value") for p in parameters}
    out, i = [], 0
    while i < len(sql):
        c = sql[i]
        if c in "'\"`":
            j = i + 1
            while j < len(sql):
                if sql[j] == c and (j + 1 >= len(sql) or sql[j + 1] != c):
                    break
                j += 2 if sql[j] == c else 1
            out.append(sql[i : j + 1])
            i = j + 1
        elif c == ":" and i + 1 < len(sql) and (sql[i + 1].isalpha() or sql[i + 1] == "_") and (i == 0 or sql[i - 1] != ":"):
            j = i + 1
            while j < len(sql) and (sql[j].isalnum() or sql[j] == "_"):
                j += 1
            name = sql[i + 1 : j]
            if name not in values:
                raise KeyError(name)
            out.append(literal(values[name]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


class Parameters:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/api/2.0/sql/statements":
            return await self.app(scope, receive, send)
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            request = json.loads(body)
            if request.get("parameters"):
                request["statement"] = bind(request["statement"], request.pop("parameters"))
            body = json.dumps(request).encode()
        except (ValueError, KeyError, AttributeError):
            pass
        sent = False

        async def replay():
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.app(dict(scope, headers=headers), replay, send)


uvicorn.run(Parameters(create_app()), host="127.0.0.1", port=port, log_level="warning", http="h11", lifespan="on")
