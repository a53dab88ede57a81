"""Parses Warden's Redshift SQL with sqlglot's redshift dialect, since no Redshift is reachable in tests.

Reads JSON from stdin: a list of cases {"statements": [...], "identifiers": [...], "literals": [...]}. Every
statement must parse as exactly one statement, and every identifier and string literal the case names must come
back intact (a value that escaped its quotes would be cut or turned into SQL). Prints {"statements": n,
"failures": [...]} on stdout.
"""
import json
import sys

import sqlglot
from sqlglot import exp

cases = json.load(sys.stdin)
failures = []
count = 0
for index, case in enumerate(cases):
    identifiers, literals = set(), set()
    for statement in case["statements"]:
        count += 1
        try:
            parsed = [tree for tree in sqlglot.parse(statement, read="redshift") if tree is not None]
        except Exception as error:  # sqlglot raises ParseError and TokenError
            failures.append(f"case {index}: {type(error).__name__}: {str(error)[:300]}")
            continue
        if len(parsed) != 1:
            failures.append(f"case {index}: {len(parsed)} statements in one: {statement[:200]}")
            continue
        for node in parsed[0].walk():
            if isinstance(node, exp.Identifier) and node.quoted:
                identifiers.add(node.this)
            elif isinstance(node, exp.Literal) and node.is_string:
                literals.add(node.this)
    for name in case.get("identifiers", []):
        if name not in identifiers:
            failures.append(f"case {index}: identifier {name!r} did not survive")
    for value in case.get("literals", []):
        if value not in literals:
            failures.append(f"case {index}: literal {value!r} did not survive")
print(json.dumps({"statements": count, "failures": failures[:20], "failureCount": len(failures)}))
