#!/usr/bin/env bash
# A sweep on a real (throwaway, one-node) SLURM cluster: the sequence task x 3 seeds plus one
# run that is a 2-rank mpirun, submitted as array jobs by `delayprop-sweep slurm --submit`,
# waited for, aggregated and checked; resubmitting then finds nothing to do. Also runs
# slurm/train_multinode.sbatch once (2 ranks via srun).
#   test_sweep_slurm.sh PATH/TO/delayprop-sweep PATH/TO/delayprop-train SOURCE_DIR
# Exit 77 (skipped) without SLURM (slurmctld, slurmd, munge, sbatch), without root, or
# without mpirun. The cluster is stopped on every exit.
set -euo pipefail
SWEEP=$1
TRAIN=$2
SRC=$3
CONFIG=${DELAYPROP_SLURM_TEST_CONFIG:-$SRC/configs/sequence.toml}
export PATH="$PATH:/usr/sbin"

skip() { echo "SKIP: $*"; exit 77; }
for b in slurmctld slurmd munged sbatch squeue sinfo scontrol; do
  command -v "$b" >/dev/null 2>&1 || skip "'$b' not installed (apt-get install slurmctld slurmd slurm-client munge)"
done
[ "$(id -u)" -eq 0 ] || skip "needs root to run slurmd and munged"
command -v mpirun >/dev/null 2>&1 || skip "mpirun not installed"
[ "$(nproc)" -ge 2 ] || skip "the 2-rank task needs 2 CPUs"
[ -f "$CONFIG" ] || { echo "FAIL: no config $CONFIG"; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/delayprop-slurm.XXXXXX")
CLUSTER="$WORK/cluster"
cleanup() {
  "$SRC/tests/slurm/stop_cluster.sh" "$CLUSTER" || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
cd "$WORK"

t0=$(date +%s)
"$SRC/tests/slurm/start_cluster.sh" "$CLUSTER"
# shellcheck disable=SC1091
source "$CLUSTER/env.sh"
# The array tasks inherit this environment (sbatch --export=ALL): mpirun as root is allowed.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

cat > sweep.toml <<TOML
name = "slurmtest"
base = "$CONFIG"
seeds = [1, 2, 3]
mpirun = "mpirun --oversubscribe"

[[list]]
label = "serial"

[[list]]
label = "mpi2"
ranks = 2
seeds = [1]

[slurm]
cpus_per_task = 1
time = "00:05:00"
TOML

fails=0
check() {
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
OUT="$WORK/runs/slurmtest"

"$SWEEP" slurm sweep.toml --train "$TRAIN" --submit | tee submit.txt
jobs=$(sed -n 's/^submitted job \([0-9]*\).*/\1/p' submit.txt | paste -sd, -)
check "two array jobs submitted (1 rank and 2 ranks)" test "$(echo "$jobs" | tr ',' '\n' | grep -c .)" = 2

# sacct needs slurmdbd, which this cluster has not: poll squeue and the runs' summaries.
deadline=$(( $(date +%s) + ${DELAYPROP_SLURM_TEST_TIMEOUT:-100} ))
while :; do
  queued=$(squeue -h -j "$jobs" 2>/dev/null | wc -l || true)
  done_runs=$(grep -l '"status": *"done"' "$OUT"/*/summary.json 2>/dev/null | wc -l || true)
  [ "$queued" -eq 0 ] && break
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "FAIL timed out: $queued tasks still queued, $done_runs runs done"
    squeue || true
    fails=$((fails + 1))
    break
  fi
  sleep 1
done
echo "--- task logs"
for f in "$OUT"/slurm/*.out; do echo "== $f"; tail -n 15 "$f"; done

check "4 runs done" test "$(grep -l '"status": *"done"' "$OUT"/*/summary.json 2>/dev/null | wc -l)" = 4
check "the 2-rank task ran mpirun -np 2" grep -q "mpirun --oversubscribe -np 2 " "$OUT"/slurm/*.out

# The multi-node template, here on one node: 2 ranks launched by srun (PMIx).
mn_job=$(DELAYPROP_BIN=$(dirname "$TRAIN") sbatch --parsable --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 \
  --gpus-per-node=0 --time=00:05:00 --output="$WORK/multinode.out" \
  "$SRC/slurm/train_multinode.sbatch" "$CONFIG" "$WORK/multinode" --seed 1)
deadline=$(( $(date +%s) + 60 ))
while [ "$(squeue -h -j "$mn_job" 2>/dev/null | wc -l || true)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
echo "--- multinode.out"; tail -n 5 "$WORK/multinode.out" || true
check "train_multinode.sbatch: run done on 2 ranks" grep -Eq '"world_size": *2' "$WORK/multinode/summary.json"

"$SWEEP" aggregate "$OUT" --no-plot | tee agg.txt
CSV="$OUT/results.csv"
check "CSV: header and a row per run" test "$(wc -l < "$CSV")" = 5
check "CSV: run columns" grep -q "^sweep,run,point,variant,seed,ranks,status," "$CSV"
check "CSV: summary metrics" grep -q "train_accuracy.*presentations_to_100" "$CSV"
col() { awk -F, -v name="$1" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next } { print $2 "=" $c }' "$CSV"; }
check "CSV: the 2-rank run trained on 2 ranks" grep -qx "mpi2_s1=2" <(col world_size)
check "CSV: all done" test "$(grep -c ',done,' "$CSV")" = 4
check "table: serial point over 3 seeds" grep -Eq "^\| serial \| 3 \| [0-9.]+ ± [0-9.]+ \|" "$OUT/results.md"
check "table: 2-rank point" grep -Eq "^\| mpi2 \| 1 \| [0-9.]+ \|" "$OUT/results.md"

"$SWEEP" slurm sweep.toml --train "$TRAIN" --submit | tee resubmit.txt
check "resubmitting a finished sweep submits nothing" grep -q "nothing to submit" resubmit.txt

echo "elapsed $(( $(date +%s) - t0 )) s"
if [ "$fails" -ne 0 ]; then
  echo "--- slurmctld log"; tail -n 30 "$CLUSTER/log/slurmctld.log" || true
  echo "--- slurmd log"; tail -n 30 "$CLUSTER/log/slurmd.log" || true
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"
