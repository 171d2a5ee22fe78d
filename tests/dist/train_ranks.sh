#!/usr/bin/env bash
# Data-parallel training gives bitwise the same parameters whatever the number of ranks and
# threads: trains the same global batches with 1, 2, 3 and 4 ranks (1 thread each) and with
# 1 rank on 2 threads under the MPI launcher, and compares the final parameters
# (checkpoint.h5:/params_flat) bit for bit with the 1-rank run; then a run killed (kill -9 of
# every rank in its 3rd batch) under 2 ranks is resumed under 3 ranks and must end with the
# same bits too. Needs checkpoint_every = 1 and at least 2 epochs (checkpoint.prev.h5 shows
# that training moved the parameters).
#   train_ranks.sh TRAIN_EXE CONFIG MPIEXEC NP_FLAG [MPIEXEC_FLAGS...] -- [--set ...]
set -euo pipefail
exe=$1; config=$2; mpiexec=$3; npflag=$4; shift 4
flags=()
while [[ $# -gt 0 && "$1" != "--" ]]; do flags+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
train() {  # NAME NP [extra args...]
  local name=$1 np=$2; shift 2
  if ! timeout 120 "$mpiexec" "$npflag" "$np" "${flags[@]}" "$exe" --config "$config" "$@" \
      --quiet --out "$out/$name" > "$out/$name.log" 2>&1; then
    cat "$out/$name.log"; echo "FAIL: training '$name' ($np ranks) failed"; exit 1
  fi
}
base=("$@")
for np in 1 2 3 4; do train "np$np" "$np" "${base[@]}" --threads 1; done
train threads2 1 "${base[@]}" --threads 2
# Killed under 2 ranks after a checkpoint per batch, resumed under 3 ranks.
set +e
DELAYPROP_TEST_KILL=batch:3 timeout 120 "$mpiexec" "$npflag" 2 "${flags[@]}" "$exe" --config "$config" \
  "${base[@]}" --threads 1 --set train.checkpoint_batches=1 --quiet --out "$out/resumed" > "$out/kill.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || { cat "$out/kill.log"; echo "FAIL: the run meant to be killed exited 0"; exit 1; }
[ ! -f "$out/resumed/summary.json" ] || { echo "FAIL: the killed run wrote a summary"; exit 1; }
train resumed 3 "${base[@]}" --threads 1 --set train.checkpoint_batches=1 --resume
/usr/bin/python3 - "$out" <<'PY'
import json, sys
import h5py, numpy as np
out = sys.argv[1]
def params(name):
    with h5py.File(f"{out}/{name}/checkpoint.h5", "r") as f:
        return f["/params_flat"][()]
ref = params("np1")
status = 0
# A comparison of untrained parameters would prove nothing: the last epoch must move them.
with h5py.File(f"{out}/np1/checkpoint.prev.h5", "r") as f:
    moved = float(np.max(np.abs(f["/params_flat"][()] - ref)))
print(f"largest parameter change in the last epoch (1 rank): {moved:.3e}")
if not moved > 0:
    print("FAIL: the parameters did not change during the last epoch"); status = 1
runs = {"np2": (2, "2 ranks"), "np3": (3, "3 ranks"), "np4": (4, "4 ranks"),
        "threads2": (1, "1 rank, 2 threads"), "resumed": (3, "killed under 2 ranks, resumed under 3")}
for name, (world_want, what) in runs.items():
    p = params(name)
    world = json.load(open(f"{out}/{name}/summary.json"))["world_size"]
    if world != world_want:
        print(f"FAIL: {what}: summary says world_size {world}"); status = 1
    if p.shape != ref.shape:
        print(f"FAIL: {what}: {p.size} parameters, 1 rank: {ref.size}"); status = 1; continue
    differ = int(np.count_nonzero(p.view(np.uint64) != ref.view(np.uint64)))
    rel = float(np.max(np.abs(p - ref) / np.maximum(np.abs(ref), 1e-300))) if ref.size else 0.0
    print(f"{what} vs 1 rank: {differ} of {ref.size} parameters differ in their bits (max relative {rel:.3e})")
    if differ:
        print("FAIL: not bitwise identical"); status = 1
sys.exit(status)
PY
