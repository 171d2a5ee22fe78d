#!/usr/bin/env bash
# Data parallelism with real mpirun ranks: training with 1, 2 and 3 ranks on the same global
# batches gives the same parameters up to the rounding of the gradient reduction order, and a
# run killed (kill -9) under 2 ranks resumes under 3. Usage: rank_equivalence.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Yin-Yang, 16 hidden, 200 training samples in batches of 50 (+ uneven last batch of 0..),
# regulariser-free; a hidden layer, shuffling, bumps and the first-spike loss are all exercised.
args=(--config "$src/configs/yinyang.toml" --set data.n_train=230 --set data.n_valid=50 --set data.n_test=50
      --set train.batch_size=50 --set train.epochs=2 --set engine.threads=1 --set network.dt=0.05
      --set network.population.1.size=16 --quiet)
for n in 1 2 3; do
  mpirun -np $n "$build/delayprop-train" "${args[@]}" --out "$work/np$n" > "$work/np$n.log" 2>&1 \
    || { cat "$work/np$n.log"; exit 1; }
done
py=/usr/bin/python3
# The comparison means something only if training moved the parameters.
$py -c "import json,sys; s=json.load(open('$work/np1/summary.json')); sys.exit(0 if s['loss'] > 0 else 'no loss: nothing was trained')"
$py "$src/tests/mpi_train/compare_params.py" "$work/np1/checkpoint.h5" "$work/np2/checkpoint.h5" 1e-6
$py "$src/tests/mpi_train/compare_params.py" "$work/np1/checkpoint.h5" "$work/np3/checkpoint.h5" 1e-6
# kill -9 of one rank after 3 batches under 2 ranks, then resume with 3 ranks.
set +e
DELAYPROP_TEST_KILL=batch:3 timeout 60 mpirun -np 2 "$build/delayprop-train" "${args[@]}" \
  --set train.checkpoint_batches=1 --out "$work/resume" > "$work/kill.log" 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] || { echo "the killed run exited 0"; exit 1; }
[ ! -f "$work/resume/summary.json" ] || { echo "killed run wrote a summary"; exit 1; }
mpirun -np 3 "$build/delayprop-train" "${args[@]}" --set train.checkpoint_batches=1 --out "$work/resume" --resume \
  > "$work/resume.log" 2>&1 || { cat "$work/resume.log"; exit 1; }
$py "$src/tests/mpi_train/compare_params.py" "$work/np1/checkpoint.h5" "$work/resume/checkpoint.h5" 1e-6
echo "rank equivalence: OK"
