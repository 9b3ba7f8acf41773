"""Derives a strict JSON Schema from a CustomResourceDefinition (see each target's schema/SOURCE.md).

Takes spec.versions[name=VERSION].schema.openAPIV3Schema and makes it strict the way
kubernetes-validate's strict schemas are: every object that lists its properties, and does not
keep unknown fields on purpose, gets additionalProperties: false. The API server prunes unknown
fields of a CRD silently, so a misspelled field would otherwise vanish and change the policy.

Usage: python3 derive-crd-schema.py CRD.yaml VERSION [KIND] > schema.json
"""
import json
import sys

import yaml


def strict(node):
    if isinstance(node, dict):
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            strict(value)
    elif isinstance(node, list):
        for value in node:
            strict(value)


def main(path, name, kind=None):
    with open(path) as f:
        crds = [d for d in yaml.safe_load_all(f) if d]
    # A file may hold several CRDs: KIND picks one.
    (crd,) = [c for c in crds if kind is None or c["spec"]["names"]["kind"] == kind]
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == name]
    schema = version["schema"]["openAPIV3Schema"]
    strict(schema)
    # metadata is ObjectMeta, which the CRD leaves open; warden writes name, namespace (for a
    # namespaced kind), labels and annotations only.
    namespaced = crd["spec"]["scope"] == "Namespaced"
    schema["properties"]["metadata"] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "namespace"] if namespaced else ["name"],
        "properties": {
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    }
    json.dump(schema, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(*sys.argv[1:4])
