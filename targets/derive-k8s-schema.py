"""Derives a self-contained strict JSON Schema for one Kubernetes kind from kubernetes-validate.

The package ships per-kind files that refer to `/api/_definitions.json#/$defs/NAME`. This makes
the standalone form warden embeds, the way shared/corpora's `v1.36.0-standalone-strict` files were
made: every reference rewritten to `#/$defs/NAME`, the definitions it reaches copied into the
file's own `$defs`, and `$id` dropped. Nothing else is changed.

Usage: python3 derive-k8s-schema.py VERSION FILE > schema.json
  e.g. python3 derive-k8s-schema.py v1.36.0 daemonset-apps-v1.json
"""
import json
import os
import sys

import kubernetes_validate

# How the per-kind files refer to a definition, and how `_definitions.json` refers to its own.
PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def main(version, name):
    root = os.path.join(
        os.path.dirname(kubernetes_validate.__file__),
        "kubernetes-json-schema",
        version + "-local-strict",
    )
    with open(os.path.join(root, name)) as f:
        schema = json.load(f)
    with open(os.path.join(root, "_definitions.json")) as f:
        definitions = json.load(f)["$defs"]
    reached = {}

    def rewrite(node):
        if isinstance(node, dict):
            ref = node.get("$ref")
            prefix = next((p for p in PREFIXES if isinstance(ref, str) and ref.startswith(p)), None)
            if prefix is not None:
                target = ref[len(prefix):]
                node["$ref"] = "#/$defs/" + target
                if target not in reached:
                    reached[target] = None
                    reached[target] = rewrite(json.loads(json.dumps(definitions[target])))
            for key, value in node.items():
                if key != "$ref":
                    rewrite(value)
        elif isinstance(node, list):
            for value in node:
                rewrite(value)
        return node

    rewrite(schema)
    schema.pop("$id", None)
    defs = schema.setdefault("$defs", {})
    for key in sorted(reached):
        defs[key] = reached[key]
    json.dump(schema, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
