#!/usr/bin/env python3
"""Derives compiler/catalog/pod-schema.json: the field types of a pod spec and pod metadata, as
warden's type check of raw CEL needs them, from Kubernetes' JSON schema definitions.

Usage: derive-pod-schema.py _definitions.json > pod-schema.json

Input: shared/corpora/schemas/k8s-json-schema/v1.36.0-local-strict/_definitions.json.
Output: {"Kind": {"field": TYPE}} for every definition reachable from PodSpec and ObjectMeta,
keyed by the definition's last name component; TYPE is `string`, `int`, `double`, `bool`, `dyn`
(int-or-string, quantities, timestamps, free-form objects), `list:TYPE`, `map:TYPE` or `obj:Kind`.
The test suite re-runs this script and requires the committed file to be identical.
"""
import json
import sys

ROOTS = ["io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]


def main():
    defs = json.load(open(sys.argv[1]))["$defs"]
    short = {}
    out = {}
    todo = list(ROOTS)

    def name_of(ref):
        full = ref.split("/")[-1]
        s = full.split(".")[-1]
        if short.setdefault(s, full) != full:
            sys.exit(f"two definitions named {s}: {short[s]} and {full}")
        if full not in seen:
            seen.add(full)
            todo.append(full)
        return s

    def ty(node):
        if "$ref" in node:
            target = defs[node["$ref"].split("/")[-1]]
            if "properties" not in target:
                return ty(target)
            return "obj:" + name_of(node["$ref"])
        if "oneOf" in node or "anyOf" in node:
            return "dyn"
        if "allOf" in node and len(node["allOf"]) == 1:
            return ty(node["allOf"][0])
        t = node.get("type")
        if isinstance(t, list):
            t = [x for x in t if x != "null"]
            t = t[0] if len(t) == 1 else None
        if t == "string":
            return "dyn" if node.get("format") == "date-time" else "string"
        if t == "integer":
            return "int"
        if t == "number":
            return "double"
        if t == "boolean":
            return "bool"
        if t == "array":
            return "list:" + ty(node.get("items", {}))
        if t == "object" and isinstance(node.get("additionalProperties"), dict):
            return "map:" + ty(node["additionalProperties"])
        return "dyn"

    seen = set(ROOTS)
    for r in ROOTS:
        short[r.split(".")[-1]] = r
    while todo:
        full = todo.pop()
        props = defs[full].get("properties", {})
        out[full.split(".")[-1]] = {k: ty(v) for k, v in sorted(props.items())}
    json.dump(dict(sorted(out.items())), sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


main()
