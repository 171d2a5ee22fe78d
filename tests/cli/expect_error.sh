#!/usr/bin/env bash
# Runs a command that must fail with exit code CODE and print exactly one line, LINE.
#   expect_error.sh CODE LINE COMMAND [ARGS...]
code=$1 line=$2
shift 2
out=$("$@" 2>&1)
got=$?
echo "$out"
[ "$got" = "$code" ] || { echo "exit code $got, expected $code"; exit 1; }
[ "$out" = "$line" ] || { echo "expected the one line: $line"; exit 1; }
