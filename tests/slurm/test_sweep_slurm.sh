#!/usr/bin/env bash
# A sweep on a real (throwaway, one-node) SLURM cluster: the sequence task x 3 seeds plus one
# run that is a 2-rank mpirun, submitted as array jobs by `delayprop-sweep slurm --submit`,
# waited for, aggregated and checked; resubmitting then finds nothing to do. Also runs
# slurm/train_multinode.sbatch once (2 ranks via srun). Then preemption: a long run is sent
# SIGUSR1 (scancel --signal=USR1 --batch, as --signal=B:USR1@T does before the time limit),
# checkpoints and exits 75; `delayprop-sweep slurm --resubmit` queues only that run again,
# which resumes and finishes.
#   test_sweep_slurm.sh PATH/TO/delayprop-sweep PATH/TO/delayprop-train SOURCE_DIR
# Exit 77 (skipped) without SLURM (slurmctld, slurmd, munge, sbatch), without root, or
# without mpirun -- except with CI=true, where not running is a failure (exit 1). The
# cluster is stopped on every exit.
set -euo pipefail
SWEEP=$1
TRAIN=$2
SRC=$3
CONFIG=${DELAYPROP_SLURM_TEST_CONFIG:-$SRC/configs/sequence.toml}
export PATH="$PATH:/usr/sbin"

skip() {
  if [ "${CI:-}" = true ]; then echo "FAIL (CI=true, so not skipped): $*"; exit 1; fi
  echo "SKIP: $*"; exit 77
}
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
"$SRC/tests/slurm/start_cluster.sh" "$CLUSTER" || skip "the SLURM cluster did not start"
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

# --- preemption: stop on SIGUSR1, exit 75, --resubmit resumes only that run ---------------
cat > preempt.toml <<TOML
name = "preempttest"
base = "$CONFIG"
seeds = [1, 2]
[[list]]
label = "short"
seeds = [1]
[[list]]
label = "long"
seeds = [2]
set = ["train.epochs=${DELAYPROP_SLURM_TEST_LONG_EPOCHS:-8000}", "train.patience=0"]
[slurm]
cpus_per_task = 1
time = "00:05:00"
TOML
POUT="$WORK/runs/preempttest"
"$SWEEP" slurm preempt.toml --train "$TRAIN" --submit | tee psubmit.txt
pjob=$(sed -n 's/^submitted job \([0-9]*\).*/\1/p' psubmit.txt)
long_idx=$(/usr/bin/python3 -c 'import json,sys; print([r["index"] for r in json.load(open(sys.argv[1]))["runs"] if r["name"].startswith("long")][0])' "$POUT/manifest.json")
# Wait until the long run trains (3 epochs in its metrics), then signal its batch shell. The
# run directory appears when the task starts, so it is looked up in the loop; the signal is
# retried until the task's batch step exists.
deadline=$(( $(date +%s) + 90 ))
long_dir=""
while [ "$(date +%s)" -lt "$deadline" ]; do
  long_dir=$(ls -d "$POUT"/long*_s2 2>/dev/null | head -n 1 || true)
  epochs=0
  [ -n "$long_dir" ] && epochs=$(grep -c '"epoch":' "$long_dir/metrics.jsonl" 2>/dev/null) || true
  [ "${epochs:-0}" -ge 3 ] && break
  sleep 0.2
done
[ -n "$long_dir" ] || long_dir="$POUT/long_s2"
until scancel --signal=USR1 --batch "${pjob}_${long_idx}" || [ "$(date +%s)" -ge "$deadline" ]; do sleep 0.5; done
deadline=$(( $(date +%s) + 60 ))
while [ "$(squeue -h -j "$pjob" 2>/dev/null | wc -l || true)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
echo "--- preempted task log"; tail -n 5 "$POUT/slurm/${pjob}_${long_idx}.out" || true
check "preempted: the task reports exit 75" grep -q "exit 75 (stopped with a checkpoint" "$POUT/slurm/${pjob}_${long_idx}.out"
check "preempted: checkpoint written, no summary" test -f "$long_dir/checkpoint.h5" -a ! -f "$long_dir/summary.json"
check "preempted: the short run is done" grep -qs '"status": *"done"' "$POUT"/short*_s1/summary.json
"$SWEEP" slurm preempt.toml --train "$TRAIN" --resubmit | tee presubmit.txt
check "resubmit: only the preempted run" grep -q -- "(--array=${long_idx})" presubmit.txt
rjob=$(sed -n 's/^submitted job \([0-9]*\).*/\1/p' presubmit.txt)
deadline=$(( $(date +%s) + ${DELAYPROP_SLURM_TEST_TIMEOUT:-100} ))
while [ -n "$rjob" ] && [ "$(squeue -h -j "$rjob" 2>/dev/null | wc -l || true)" -gt 0 ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 1; done
echo "--- resumed task log"; tail -n 3 "$POUT/slurm/${rjob}_${long_idx}.out" || true
check "resubmitted: resumed from the checkpoint" grep -q "(resume)" "$POUT/slurm/${rjob}_${long_idx}.out"
check "resubmitted: the run is done" grep -qs '"status": *"done"' "$long_dir/summary.json"
check "sbatch script: --signal=B:USR1, --requeue, --chdir" \
  grep -q -- "--signal=B:USR1@" "$POUT/sweep.sbatch" -a -n "$(grep -- '--requeue' "$POUT/sweep.sbatch")"
check "manifest: base config copied into the sweep directory" grep -q "$POUT/slurm/configs/" "$POUT/manifest.json"

echo "elapsed $(( $(date +%s) - t0 )) s"
if [ "$fails" -ne 0 ]; then
  echo "--- slurmctld log"; tail -n 30 "$CLUSTER/log/slurmctld.log" || true
  echo "--- slurmd log"; tail -n 30 "$CLUSTER/log/slurmd.log" || true
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"
