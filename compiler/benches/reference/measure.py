"""Measures warden and the tools the issue compares it with on the chain job, in one run.

usage: measure.py WARDEN CHAIN_DIR N OUT_DIR [ROUNDS]

Each round runs, one after the other: `warden build` of the chain program to `netpol` (bundle,
output written), gojsonnet evaluating chain.jsonnet and writing its YAML stream, and PyYAML's C
dumper serialising warden's NetworkPolicies (loaded beforehand, untimed: the issue's "merely
serialising the objects"). Wall time is read around each process (for PyYAML, around the dump
inside it); peak memory is the process's maximum resident set, from wait4.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

JSONNET = """
import json, sys, _gojsonnet
out = _gojsonnet.evaluate_file(sys.argv[1], ext_vars={"n": sys.argv[2]})
with open(sys.argv[3], "w") as f:
    f.write(json.loads(out))
"""

PYYAML = """
import sys, time, yaml
docs = [d for d in yaml.load_all(open(sys.argv[1]), Loader=yaml.CLoader) if d]
start = time.perf_counter()
with open(sys.argv[2], "w") as f:
    yaml.dump_all(docs, f, Dumper=yaml.CDumper, sort_keys=False)
print(time.perf_counter() - start)
"""


def main():
    warden, chain, n, out = sys.argv[1:5]
    rounds = int(sys.argv[5]) if len(sys.argv) > 5 else 3
    os.makedirs(out, exist_ok=True)
    bundle = os.path.join(out, "warden")
    results = {"warden": [], "gojsonnet": [], "PyYAML CDumper": []}
    for _ in range(rounds):
        results["warden"].append(measure([warden, "build", chain, "--target", "netpol",
                                          "--layout", "bundle", "--out", bundle]))
        results["gojsonnet"].append(measure([sys.executable, "-c", JSONNET,
                                             os.path.join(HERE, "chain.jsonnet"), n,
                                             os.path.join(out, "jsonnet.yaml")]))
        seconds, peak, text = measure([sys.executable, "-c", PYYAML,
                                       os.path.join(bundle, "netpol.yaml"),
                                       os.path.join(out, "pyyaml.yaml")], output=True)
        results["PyYAML CDumper"].append((float(text), peak))
    print(f"chain N = {n}, {rounds} rounds, median (each run)")
    for tool, runs in results.items():
        times = ", ".join(f"{t:.3f}" for t, _ in runs)
        peak = max(p for _, p in runs)
        print(f"  {tool:15} {statistics.median(t for t, _ in runs):7.3f} s  "
              f"(runs {times}; peak {peak:.0f} MiB)")


def measure(argv, output=False):
    """Wall seconds and peak MiB of one process (and its standard output if asked)."""
    # Files, not pipes: a process writing more than a pipe holds would wait for a reader.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(argv, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            message = err.read().decode(errors="replace")[-2000:]
            sys.exit(f"{argv[:3]} failed ({child.returncode}): {message}")
        # ru_maxrss is in KiB on Linux.
        peak = usage.ru_maxrss / 1024
        return (seconds, peak, out.read().decode()) if output else (seconds, peak)


if __name__ == "__main__":
    main()
