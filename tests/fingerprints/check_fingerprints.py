#!/usr/bin/env python3
"""Runs delayprop-bench on each line of expected.txt (1 and 2 threads) and compares the
gradient fingerprint bit for bit. Usage: check_fingerprints.py BENCH EXPECTED"""
import json
import subprocess
import sys


def main() -> int:
    bench, expected = sys.argv[1], sys.argv[2]
    failures = runs = 0
    for line in open(expected):
        if not line.strip() or line.startswith("#"):
            continue
        workload, precision, want, *args = line.split()
        for threads in ("1", "2"):
            cmd = [bench, "--workload", workload, "--precision", precision, "--threads", threads,
                   "--repeat", "1", "--no-table", *args]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            got = json.loads(out.splitlines()[0])["grad_hash"]
            runs += 1
            if got != want:
                failures += 1
                print(f"{workload} {precision} threads {threads}: grad_hash {got}, expected {want}")
    print(f"{runs} fingerprints checked, {failures} differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
