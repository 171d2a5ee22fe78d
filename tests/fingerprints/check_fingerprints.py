#!/usr/bin/env python3
"""Runs delayprop-bench on each line of expected.txt (1 and 2 threads with the best synapse
kernels of this CPU, 1 thread with the scalar ones) and compares the gradient fingerprint bit
for bit. Usage: check_fingerprints.py BENCH EXPECTED"""
import json
import os
import subprocess
import sys


def main() -> int:
    bench, expected = sys.argv[1], sys.argv[2]
    failures = runs = 0
    for line in open(expected):
        if not line.strip() or line.startswith("#"):
            continue
        workload, precision, want, *args = line.split()
        for threads, simd in (("1", "auto"), ("2", "auto"), ("1", "scalar")):
            cmd = [bench, "--workload", workload, "--precision", precision, "--threads", threads,
                   "--repeat", "1", "--no-table", *args]
            env = dict(os.environ, DELAYPROP_SIMD=simd)
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
            got = json.loads(out.splitlines()[0])["grad_hash"]
            runs += 1
            if got != want:
                failures += 1
                print(f"{workload} {precision} threads {threads} simd {simd}: grad_hash {got}, expected {want}")
    print(f"{runs} fingerprints checked, {failures} differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
