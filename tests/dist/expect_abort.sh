#!/usr/bin/env bash
# Runs a command that must fail fast: asserts a non-zero exit, no hang (the command runs
# under `timeout`), an elapsed time below a limit, and output matching a pattern.
#   expect_abort.sh MAX_SECONDS PATTERN -- COMMAND...
set -u
max=$1; pattern=$2; shift 2
[[ "${1:-}" == "--" ]] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
start_ms=$(( $(date +%s%N) / 1000000 ))
# A hang is killed after twice the limit and reported, instead of blocking the test run.
timeout -k 5 $((2 * max)) "$@" >"$out" 2>&1
rc=$?
elapsed_ms=$(( $(date +%s%N) / 1000000 - start_ms ))
cat "$out"
echo "---- exit code $rc after ${elapsed_ms} ms"
status=0
if [[ $rc -eq 0 ]]; then echo "FAIL: the job exited 0, expected a failure"; status=1; fi
if [[ $rc -eq 124 ]]; then echo "FAIL: the job hung and was stopped by timeout"; status=1; fi
if (( elapsed_ms >= max * 1000 )); then
  echo "FAIL: the job took ${elapsed_ms} ms, limit ${max} s"; status=1
fi
if ! grep -Eq -- "$pattern" "$out"; then echo "FAIL: output does not match /$pattern/"; status=1; fi
[[ $status -eq 0 ]] && echo "PASS: failed as expected in ${elapsed_ms} ms"
exit $status
