"""The decisions of `warden-bench decide`, made by casbin and by cedarpy in this process.

Reads the benchmark's world (policies as (tag, excepted group), columns with tags, the user) from the JSON file
given as the first argument and prints one JSON line per engine and case: decisions per second, where one decision
is what Warden decides for one user on one source (is each of its columns masked?), so one call per column.
"""
import json
import statistics
import sys
import tempfile
import time

import casbin
import cedarpy

MODEL = """
[request_definition]
r = sub, obj
[policy_definition]
p = tag, group
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = p.tag in r.obj.tags and not (p.group in r.sub.groups)
"""


class Subject:
    def __init__(self, name, groups):
        self.name = name
        self.groups = groups


class Column:
    def __init__(self, name, tags):
        self.name = name
        self.tags = tags


def measure(decide, seconds):
    """Median decisions per second over five rounds of about `seconds` / 5 each."""
    rates = []
    for _ in range(5):
        count = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds / 5:
            decide()
            count += 1
        rates.append(count / (time.perf_counter() - start))
    return statistics.median(rates)


def casbin_case(world, policies, expected, seconds):
    with tempfile.NamedTemporaryFile("w", suffix=".conf", delete=False) as model:
        model.write(MODEL)
    enforcer = casbin.Enforcer(model.name)
    for policy in policies:
        enforcer.add_policy(policy["tag"], policy["exceptGroup"])
    user = Subject(world["user"]["name"], world["user"]["groups"])
    columns = [Column(c["name"], c["tags"]) for c in world["columns"]]

    def decide():
        return [c.name for c in columns if enforcer.enforce(user, c)]

    assert decide() == expected, (decide(), expected)
    return measure(decide, seconds)


def cedar_case(world, policies, expected, seconds):
    text = "permit(principal, action == Action::\"readRaw\", resource);\n" + "".join(
        f'forbid(principal, action == Action::"readRaw", resource) when {{ resource.tags.contains("{p["tag"]}") }} '
        f'unless {{ principal in Group::"{p["exceptGroup"]}" }};\n'
        for p in policies)
    user = world["user"]
    entities = [{"uid": {"type": "User", "id": user["name"]}, "attrs": {},
                 "parents": [{"type": "Group", "id": g} for g in user["groups"]]}]
    entities += [{"uid": {"type": "Group", "id": g}, "attrs": {}, "parents": []} for g in user["groups"]]
    entities += [{"uid": {"type": "Column", "id": c["name"]}, "attrs": {"tags": c["tags"]}, "parents": []} for c in world["columns"]]
    requests = [{"principal": f'User::"{user["name"]}"', "action": 'Action::"readRaw"', "resource": f'Column::"{c["name"]}"',
                 "context": {}} for c in world["columns"]]
    names = [c["name"] for c in world["columns"]]

    def decide():
        results = cedarpy.is_authorized_batch(requests, text, entities)
        return [name for name, result in zip(names, results) if result.decision != cedarpy.Decision.Allow]

    assert decide() == expected, (decide(), expected)
    return measure(decide, seconds)


def main():
    world = json.load(open(sys.argv[1]))
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10
    matching = world["matching"]
    groups = set(world["user"]["groups"])
    expected = [c["name"] for c in world["columns"]
                if any(t in c["tags"] and f"Group{t[3:]}" not in groups for t in c["tags"])]
    for engine, case in (("casbin", casbin_case), ("cedarpy", cedar_case)):
        for label, policies in (("small", world["policies"][:matching]), ("large", world["policies"])):
            rate = case(world, policies, expected, seconds)
            print(json.dumps({"engine": engine, "case": label, "policies": len(policies), "decisionsPerSecond": round(rate, 1)}), flush=True)


if __name__ == "__main__":
    main()
