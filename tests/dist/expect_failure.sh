#!/usr/bin/env bash
# Runs a command that must fail: asserts a non-zero exit and output matching a pattern. No
# time limit of its own: a hang is caught by the ctest TIMEOUT of the test.
#   expect_failure.sh PATTERN -- COMMAND...
set -u
pattern=$1; shift
[[ "${1:-}" == "--" ]] && shift
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
rc=$?
cat "$out"
echo "---- exit code $rc"
status=0
if [[ $rc -eq 0 ]]; then echo "FAIL: the command exited 0, expected a failure"; status=1; fi
if ! grep -Eq -- "$pattern" "$out"; then echo "FAIL: output does not match /$pattern/"; status=1; fi
[[ $status -eq 0 ]] && echo "PASS: failed as expected"
exit $status
