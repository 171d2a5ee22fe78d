#!/usr/bin/env bash
# delayprop-sweep without SLURM and without training: plan, slurm (script only), local runs
# through tests/slurm/fake_train.sh (including a 2-rank mpirun run and an interrupted run
# that is resumed), skipping of finished runs, and aggregate.
#   test_sweep_local.sh PATH/TO/delayprop-sweep SOURCE_DIR
set -euo pipefail
SWEEP=$1
SRC=$2
FAKE="$SRC/tests/slurm/fake_train.sh"
command -v mpirun >/dev/null 2>&1 || { echo "SKIP: mpirun not installed"; exit 77; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/delayprop-sweep-local.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

fails=0
check() {  # description, command...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

# A real config: the sweep loads every run's config before launching anything.
cp "$SRC/configs/sequence.toml" base.toml
cat > sweep.toml <<TOML
name = "localtest"
base = "base.toml"
seeds = [1, 2]
mpirun = "mpirun --oversubscribe"
set = ["train.epochs=3"]

[[list]]
label = "plain"

[[list]]
label = "crashy"
"train.patience" = 7   # fake_train.sh: interrupted on the first try
seeds = [7]

[[list]]
label = "mpi2"
ranks = 2
seeds = [1]

[grid]
"train.batch_size" = [5, 10]

[slurm]
partition = "gpu"
time = "00:10:00"
cpus_per_task = 2
extra = ["--gres=gpu:1"]
TOML

# --- plan --------------------------------------------------------------------------------
"$SWEEP" plan sweep.toml --train "$FAKE" > plan.txt
cat plan.txt
check "plan lists 8 runs" grep -q "^sweep localtest: 8 runs" plan.txt
check "run names from overrides and seed" grep -q "plain_train.batch_size-10_s2" plan.txt
check "manifest written" test -f runs/localtest/manifest.json
check "manifest has 8 runs" test "$(grep -c '"index"' runs/localtest/manifest.json)" = 8
check "overrides passed as --set" grep -q "train.batch_size=10" runs/localtest/manifest.json

# --- slurm script, not submitted ---------------------------------------------------------
"$SWEEP" slurm sweep.toml --train "$FAKE" --time 00:20:00 > slurm.txt
cat slurm.txt
S=runs/localtest/sweep.sbatch
check "sbatch script written" test -f "$S"
check "partition directive" grep -q "^#SBATCH --partition=gpu$" "$S"
check "--time overrides the sweep file" grep -q "^#SBATCH --time=00:20:00$" "$S"
check "extra directive" grep -q "^#SBATCH --gres=gpu:1$" "$S"
check "task runs its manifest entry" grep -q "run .*/slurm/manifest-[0-9a-f]*.json --index \"\${SLURM_ARRAY_TASK_ID}\"" "$S"
check "single-rank array" grep -q -- "--array=0-5 .*sweep.sbatch" runs/localtest/submit.sh
check "2-rank array" grep -q -- "--array=6-7 --ntasks=2 .*sweep.sbatch" runs/localtest/submit.sh
check "threads = cpus per task" grep -q -- '"--threads"' runs/localtest/manifest.json
check "bash can parse the script" bash -n "$S"

# --- local: the crashy runs fail once, everything else finishes --------------------------
# The two 2-rank runs start together, so Open MPI's session directory must not be shared.
set +e
"$SWEEP" local sweep.toml -j 2 --train "$FAKE" > local1.txt 2>&1
rc=$?
set -e
cat local1.txt
check "first local pass reports the 2 failures" test "$rc" = 1
check "6 finished, 2 failed" grep -q "6 finished, 0 skipped, 2 failed" local1.txt
check "interrupted run left a checkpoint" test -f runs/localtest/crashy_train.batch_size-5_s7/checkpoint.h5
check "no MPI session directory left behind" test -z "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'delayprop-mpi.*' -newer sweep.toml 2>/dev/null)"

"$SWEEP" local sweep.toml -j 2 --train "$FAKE" > local2.txt 2>&1
cat local2.txt
check "second pass skips the 6 done runs" grep -q "8 runs, 6 already done, 2 to run" local2.txt
check "interrupted runs are resumed" test "$(grep -c '(resume)' local2.txt)" = 2
check "second pass all done" grep -q "2 finished, 6 skipped, 0 failed" local2.txt

"$SWEEP" run runs/localtest/manifest.json --index 0 > run0.txt
check "run on a done run skips it" grep -q "already done, skipped" run0.txt

# --- aggregate ---------------------------------------------------------------------------
"$SWEEP" aggregate runs/localtest --no-plot > agg.txt
cat agg.txt
CSV=runs/localtest/results.csv
check "CSV has a row per run" test "$(wc -l < "$CSV")" = 9
check "CSV header" grep -q "^sweep,run,point,variant,train.batch_size,seed,ranks,status,test_accuracy" "$CSV"
check "all runs done in CSV" test "$(grep -c ',done,' "$CSV")" = 8
check "resumed runs say so" test "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "resumed") c = i } NR > 1 && $c == 1' "$CSV" | wc -l)" = 2
check "mpi2 runs ran on 2 ranks" test "$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "world_size") c = i; next } $2 ~ /^mpi2/ && $c == 2' "$CSV" | wc -l)" = 2
MD=runs/localtest/results.md
# plain, size 10: seeds 1 and 2 -> 0.537364, 0.538364: mean 53.79 %, SD 0.07 %
check "table: mean ± SD over seeds, in %" grep -q "| plain | 10 | 2 | 53.79 ± 0.07 |" "$MD"
check "table: single-seed point" grep -q "| mpi2 | 5 | 1 | 52.00 |" "$MD"
check "points.csv" test "$(wc -l < runs/localtest/points.csv)" = 7

# --- figures (only where matplotlib is installed) ----------------------------------------
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  "$SWEEP" aggregate runs/localtest --plot-script "$SRC/tools/plot_sweep.py" > agg2.txt
  check "figure written" test -s runs/localtest/figures/test_accuracy.png
else
  echo "note: matplotlib not installed; plot step not checked"
fi

# --- errors name the problem ---------------------------------------------------------------
printf 'base = "base.toml"\n[grid]\n"a.b" = 3\n' > bad.toml
if "$SWEEP" plan bad.toml > bad.txt 2>&1; then rc=0; else rc=$?; fi
check "bad sweep file fails" test "$rc" = 1
check "error names the key" grep -q "grid.a.b" bad.txt
printf 'base = "base.toml"\n[grid]\n"train.epoks" = [1, 2]\n' > typo.toml
if "$SWEEP" plan typo.toml > typo.txt 2>&1; then rc=0; else rc=$?; fi
cat typo.txt
check "unknown config key fails at plan time" test "$rc" = 1
check "error names run and key" grep -q "run train.epoks-1_s1: .*train.epoks" typo.txt
check "nothing planned for the bad sweep" test ! -e runs/typo

# The trainer's own check (delayprop-train --check) runs at plan time: a data path that does
# not exist fails before anything is submitted.
TRAIN=$(dirname "$SWEEP")/delayprop-train
if [ -x "$TRAIN" ]; then
  printf 'name = "nodata"\nbase = "%s"\n' "$SRC/configs/shd_recurrent.toml" > nodata.toml
  if "$SWEEP" plan nodata.toml --train "$TRAIN" --set data.path=/nonexistent > nodata.txt 2>&1; then rc=0; else rc=$?; fi
  cat nodata.txt
  check "plan: a missing data path fails" test "$rc" = 1
  check "plan: the error names the file" grep -q "trainer's check failed.*/nonexistent/shd_train.h5: no such file" nodata.txt
  check "plan: no manifest for it" test ! -e runs/nodata/manifest.json
fi

if [ "$fails" -ne 0 ]; then
  for f in runs/localtest/*/train.log; do [ -s "$f" ] && { echo "== $f"; cat "$f"; }; done
  echo "$fails check(s) failed"
  exit 1
fi
echo "all checks passed"
