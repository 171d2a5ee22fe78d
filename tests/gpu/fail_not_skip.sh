#!/usr/bin/env bash
# The device check must not report SKIP on a machine that has an NVIDIA device it cannot use:
# with a stand-in /dev holding "nvidia0" (DELAYPROP_DEVICE_CHECK_DEV) and a CUDA runtime that
# finds no device, it must exit 1 and say why.   Usage: fail_not_skip.sh DEVICE_CHECK_BINARY
set -u
bin=$1
if ls /dev/nvidia[0-9]* >/dev/null 2>&1; then echo "SKIP: this machine has a real NVIDIA device"; exit 0; fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/nvidia0"
DELAYPROP_DEVICE_CHECK_DEV="$dir" "$bin" --skip-bench --json "$dir/check.json" >"$dir/out.txt" 2>&1
rc=$?
cat "$dir/out.txt"
status=0
[[ $rc -eq 1 ]] || { echo "FAIL: exit status $rc, expected 1"; status=1; }
grep -q "SKIP" "$dir/out.txt" && { echo "FAIL: reported SKIP"; status=1; }
grep -q "has an NVIDIA device" "$dir/out.txt" || { echo "FAIL: no reason given"; status=1; }
grep -q '"status": "fail"' "$dir/check.json" || { echo "FAIL: the JSON does not say fail"; status=1; }
[[ $status -eq 0 ]] && echo "PASS: FAIL reported, not SKIP"
exit $status
