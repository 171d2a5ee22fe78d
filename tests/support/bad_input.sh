# Sourced by test scripts: `bad` runs a command that must fail with one line naming the
# problem. The caller defines `out` (a scratch directory) and `fail`.
#   bad NAME EXPECTED_SUBSTRING... -- COMMAND...
bad() {
  local name=$1; shift; local want=()
  while [ "$1" != "--" ]; do want+=("$1"); shift; done; shift
  set +e; "$@" > "$out/bad.out" 2> "$out/bad.err"; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "$name: exit 0"
  [ "$(wc -l < "$out/bad.err")" -eq 1 ] || { cat "$out/bad.err"; fail "$name: not one line"; }
  for w in "${want[@]}"; do grep -qF -- "$w" "$out/bad.err" || { cat "$out/bad.err"; fail "$name: '$w' missing"; }; done
  echo "ok   $name (exit $rc): $(cat "$out/bad.err")"
}
