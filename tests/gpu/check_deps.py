#!/usr/bin/env python3
"""The device check must run on a GPU machine with no build step: its dynamic dependencies
(NEEDED entries of `readelf -d`) must be within an allow-list, and it must load NCCL by
dlopen only (docs/GPU.md, "Device check").   Usage: check_deps.py BINARY"""
import re
import subprocess
import sys

ALLOWED = {"libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1", "libgcc_s.so.1",
           "libstdc++.so.6", "libgomp.so.1", "libcuda.so.1",
           # the dynamic loader itself (part of the C library)
           "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1"}


def main() -> int:
    binary = sys.argv[1]
    out = subprocess.run(["readelf", "-d", "-W", binary], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    runpath = re.findall(r"\((?:RPATH|RUNPATH)\)\s+Library (?:rpath|runpath): \[([^\]]+)\]", out)
    print(f"{binary}\n  NEEDED: {', '.join(needed)}")
    bad = [n for n in needed if n not in ALLOWED]
    status = 0
    if bad:
        print(f"FAIL: not in the allow-list: {', '.join(bad)}")
        status = 1
    if not needed:
        print("FAIL: no NEEDED entries at all (is this a dynamic executable?)")
        status = 1
    if runpath:
        print(f"FAIL: RPATH/RUNPATH {runpath}: the binary must not depend on the build machine's paths")
        status = 1
    with open(binary, "rb") as f:
        data = f.read()
    if b"libnccl.so.2" not in data:
        print("FAIL: the name libnccl.so.2 (for dlopen) is not in the binary")
        status = 1
    symbols = subprocess.run(["objdump", "-T", binary], capture_output=True, text=True).stdout
    versions = sorted({tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBC_(\d+(?:\.\d+)+)", symbols)})
    cxx = sorted({tuple(int(x) for x in v.split(".")) for v in re.findall(r"GLIBCXX_(\d+(?:\.\d+)+)", symbols)})
    if versions:
        print(f"  needs glibc >= {'.'.join(map(str, versions[-1]))}"
              + (f", libstdc++ GLIBCXX >= {'.'.join(map(str, cxx[-1]))}" if cxx else ""))
        # Ubuntu 22.04 has glibc 2.35: a binary built here must start there.
        if versions[-1] > (2, 35):
            print("FAIL: needs a glibc newer than 2.35 (Ubuntu 22.04); something linked in a newer symbol")
            status = 1
    if status == 0:
        print("PASS: dynamic dependencies within the allow-list; NCCL only by dlopen")
    return status


if __name__ == "__main__":
    sys.exit(main())
