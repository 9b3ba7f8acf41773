"""Measures what each module's `probe` in node-apis.yaml calls beyond the runtime: each probe and
an empty script run under `strace -f` (every thread), five times each; the union of the probe's
calls less the empty script's is printed beside the module's `calls` in the catalog.

Usage: python3 measure-node-apis.py [node-apis.yaml]   (needs node and strace; x86_64)
A module whose measured set is not within its catalog `calls` is marked `MISSING`: add them.
"""
import os
import re
import subprocess
import sys
import tempfile

import yaml

CALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?([a-z0-9_]+)\(")


def traced(script, runs=5):
    names = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.js")
        with open(path, "w") as f:
            f.write(script)
        for i in range(runs):
            out = os.path.join(tmp, f"trace-{i}")
            subprocess.run(
                ["strace", "-f", "-qq", "-o", out, "node", path],
                check=True, cwd=tmp, timeout=60,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )
            with open(out) as f:
                for line in f:
                    m = CALL.match(line)
                    if m:
                        names.add(m.group(1))
    return names


def main(path):
    with open(path) as f:
        catalog = yaml.safe_load(f)
    baseline = traced("")
    print(f"runtime: {len(baseline)} calls: {' '.join(sorted(baseline))}")
    for name, module in sorted(catalog["modules"].items()):
        probe = module.get("probe")
        if not probe:
            continue
        delta = traced(probe) - baseline
        missing = delta - set(module["calls"])
        mark = f"  MISSING {' '.join(sorted(missing))}" if missing else ""
        print(f"{name}: {' '.join(sorted(delta))}{mark}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "node-apis.yaml"))
