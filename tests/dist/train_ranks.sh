#!/usr/bin/env bash
# Data-parallel training gives the same parameters whatever the number of ranks: trains the
# same global batches with 1, 2 and 3 ranks under the MPI launcher and compares the final
# parameters (checkpoint.h5:/params_flat) with the 1-rank run; then a run killed (kill -9 of
# every rank in the 3rd batch) under 2 ranks is resumed under 3 ranks and must end with the
# same parameters too. Needs checkpoint_every = 1 and at least 2 epochs (checkpoint.prev.h5
# shows that training moved the parameters).
#   train_ranks.sh TRAIN_EXE CONFIG MAX_REL_DIFF MPIEXEC NP_FLAG [MPIEXEC_FLAGS...] -- [--set ...]
set -euo pipefail
exe=$1; config=$2; tol=$3; mpiexec=$4; npflag=$5; shift 5
flags=()
while [[ $# -gt 0 && "$1" != "--" ]]; do flags+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for np in 1 2 3; do
  if ! timeout 120 "$mpiexec" "$npflag" "$np" "${flags[@]}" "$exe" --config "$config" "$@" \
      --quiet --out "$out/np$np" > "$out/np$np.log" 2>&1; then
    cat "$out/np$np.log"; echo "FAIL: training with $np ranks failed"; exit 1
  fi
done
# Killed under 2 ranks after a checkpoint per batch, resumed under 3 ranks: compared as "np4".
set +e
DELAYPROP_TEST_KILL=batch:3 timeout 120 "$mpiexec" "$npflag" 2 "${flags[@]}" "$exe" --config "$config" "$@" \
  --set train.checkpoint_batches=1 --quiet --out "$out/np4" > "$out/kill.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || { cat "$out/kill.log"; echo "FAIL: the run meant to be killed exited 0"; exit 1; }
[ ! -f "$out/np4/summary.json" ] || { echo "FAIL: the killed run wrote a summary"; exit 1; }
if ! timeout 120 "$mpiexec" "$npflag" 3 "${flags[@]}" "$exe" --config "$config" "$@" \
    --set train.checkpoint_batches=1 --quiet --out "$out/np4" --resume > "$out/resume.log" 2>&1; then
  cat "$out/resume.log"; echo "FAIL: resuming under 3 ranks failed"; exit 1
fi
/usr/bin/python3 - "$out" "$tol" <<'PY'
import json, sys
import h5py, numpy as np
out, tol = sys.argv[1], float(sys.argv[2])
def params(np_):
    with h5py.File(f"{out}/np{np_}/checkpoint.h5", "r") as f:
        return f["/params_flat"][()]
ref = params(1)
status = 0
# A comparison of untrained parameters would prove nothing: the last epoch must move them.
with h5py.File(f"{out}/np1/checkpoint.prev.h5", "r") as f:
    moved = float(np.max(np.abs(f["/params_flat"][()] - ref)))
print(f"largest parameter change in the last epoch (1 rank): {moved:.3e}")
if not moved > 0:
    print("FAIL: the parameters did not change during the last epoch"); status = 1
for np_ in (2, 3, 4):
    p = params(np_)
    world = json.load(open(f"{out}/np{np_}/summary.json"))["world_size"]
    if world != min(np_, 3):
        print(f"FAIL: {np_} ranks launched, summary says world_size {world}"); status = 1
    if p.shape != ref.shape:
        print(f"FAIL: {np_} ranks: {p.size} parameters, 1 rank: {ref.size}"); status = 1; continue
    rel = float(np.max(np.abs(p - ref) / np.maximum(np.abs(ref), 1e-30))) if ref.size else 0.0
    what = f"{np_} ranks" if np_ < 4 else "killed under 2 ranks, resumed under 3"
    print(f"{what} vs 1 rank: max relative parameter difference {rel:.3e} over {ref.size} parameters")
    if not rel <= tol:
        print(f"FAIL: above the tolerance {tol:g}"); status = 1
print("parameters (1 rank):", np.array2string(ref[:8], precision=6), "..." if ref.size > 8 else "")
sys.exit(status)
PY
