#!/usr/bin/env bash
# Stand-in for delayprop-train with the same command line and output files, for testing
# delayprop-sweep without training anything. Accuracy = 0.5 + 0.4 size/(size + 100) +
# seed/1000, where size is the value of any --set ...size=N (0 if none). With
# --set train.patience=7 and no --resume it writes a checkpoint and exits 3 without a summary
# (an interrupted run). Records --resume and the number of MPI ranks (OMPI_COMM_WORLD_SIZE)
# in the summary; under mpirun only rank 0 writes.
set -euo pipefail
out="" seed=1 size=0 resume=0 crash=0 config="" check=0
while [ $# -gt 0 ]; do
  case "$1" in
    --config) config=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --threads) shift 2 ;;
    --resume) resume=1; shift ;;
    --overwrite) shift ;;
    --check) check=1; shift ;;
    --set)
      case "$2" in
        *size=*) size=${2##*=} ;;
        train.patience=7) crash=1 ;;
        data.path=/nonexistent*) [ "$check" = 1 ] && { echo "fake_train: data.path: no such directory" >&2; exit 1; } ;;
      esac
      shift 2 ;;
    *) echo "fake_train: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ -n "$out" ] && [ -f "$config" ] || { echo "fake_train: need --config FILE and --out DIR" >&2; exit 2; }
[ "$check" = 0 ] || { echo "ok: $config"; exit 0; }
[ "${OMPI_COMM_WORLD_RANK:-0}" = 0 ] || exit 0
mkdir -p "$out"
cp "$config" "$out/config.toml"
echo '{"epoch": 1}' > "$out/metrics.jsonl"
if [ "$crash" = 1 ] && [ "$resume" = 0 ]; then
  echo checkpoint > "$out/checkpoint.h5"
  exit 3
fi
acc=$(awk -v s="$size" -v seed="$seed" 'BEGIN { printf "%.6f", 0.5 + 0.4 * s / (s + 100) + seed / 1000 }')
printf '{"status": "done", "test_accuracy": %s, "valid_accuracy": %s, "train_accuracy": 1.0, "epochs": 3, "wall_time_s": 0.1, "resumed": %d, "world_size": %d, "stopped_early": false}\n' \
  "$acc" "$acc" "$resume" "${OMPI_COMM_WORLD_SIZE:-1}" > "$out/summary.json.tmp"
mv "$out/summary.json.tmp" "$out/summary.json"
