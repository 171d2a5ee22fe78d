#!/usr/bin/env bash
# Runs the benchmark study: delayprop-bench (ours) and the DCLS PyTorch model side by side,
# then writes bench/results/{ours,dcls}.jsonl, the tables in docs/BENCHMARKS.md and the plots.
# One configuration per process, so that peak RSS belongs to that configuration.
#
# Usage: bench/run_all.sh [--quick] [--no-dcls] [SECTION...]
#   SECTION: headline side scale shapes dcls (default: all); results of the sections not rerun
#   are kept, so one section can be redone on a quieter machine.
#   BUILD=build (where delayprop-bench is)   VENV=.venv-dcls (made by bench/dcls/setup.sh)
#   DCLS_CAP=600 (seconds per DCLS configuration; a configuration over it is recorded as such)
# Takes about 15 min on 2 cores (DCLS at max delay 1024 alone takes a few minutes).
set -uo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
BUILD="${BUILD:-build}"
VENV="${VENV:-.venv-dcls}"
DCLS_CAP="${DCLS_CAP:-600}"
bench="$BUILD/delayprop-bench"
quick=0
nodcls=0
sections=""
for a in "$@"; do
  case "$a" in
    --quick) quick=1 ;;
    --no-dcls) nodcls=1 ;;
    headline|side|scale|shapes|dcls) sections="$sections $a" ;;
    *) echo "usage: $0 [--quick] [--no-dcls] [headline|side|scale|shapes|dcls]..." >&2; exit 2 ;;
  esac
done
[ -z "$sections" ] && sections=" headline side scale shapes dcls"
[ $nodcls = 1 ] && sections="${sections/ dcls/}"
want() { [[ " $sections " == *" $1 "* ]]; }
[ -x "$bench" ] || { echo "$bench not found: build first (cmake + ninja in $BUILD)" >&2; exit 1; }
out=bench/results
mkdir -p "$out"
ours="$out/ours.jsonl"
theirs="$out/dcls.jsonl"
touch "$ours"
# Drop the earlier results of the sections that run now.
/usr/bin/python3 - "$ours" $sections <<'PY'
import json, sys
path, secs = sys.argv[1], set(sys.argv[2:])
def section(tag):
    if tag == "headline": return "headline"
    if tag.startswith("dcls-"): return "side"
    if tag.startswith("scale-") or tag.startswith("paper-"): return "scale"
    return "shapes"
keep = [l for l in open(path) if l.strip() and section(json.loads(l).get("tag", "")) not in secs]
open(path, "w").writelines(keep)
PY

run() {  # run TAG ARGS... : one delayprop-bench configuration, tagged for the report
  local tag="$1"; shift
  local line
  line=$("$bench" "$@" --no-table) || { echo "FAILED: $bench $*" >&2; return 0; }
  echo "$line" | /usr/bin/python3 -c "import sys, json; j = json.loads(sys.stdin.read()); j['tag'] = '$tag'; print(json.dumps(j))" >> "$ours"
  echo "$tag: $(echo "$line" | /usr/bin/python3 -c "import sys, json; j = json.loads(sys.stdin.read()); print(f\"{j['workload']} H={j['hidden']} D={j['max_delay']} T={j['threads']} B={j['batch']}: {j['samples_per_s']:.1f} samples/s, {j['samples_per_cpu_s']:.1f} per CPU-s\")")"
}

S=16; R=3
[ $quick = 1 ] && { S=4; R=1; }

# 1. Headline: 700 -> 256 rec -> 20 against the bare loop, max delay 64 / 1024, 1 / 2 threads.
want headline && for d in 64 1024; do
  for t in 1 2; do run headline --workload shd-rec --hidden 256 --max-delay $d --threads $t --samples $S --batch $S --repeat $R --bare; done
done
# 2. Side by side with DCLS (feedforward 700 -> H -> H -> 20, 1 thread, batch 2 as DCLS).
delays="64 128 256 512 1024"
[ $quick = 1 ] && delays="64 256"
if want side; then
  for d in $delays; do run dcls-side --workload shd-ff --hidden 256 --max-delay $d --samples 8 --batch 2 --repeat $R; done
  run dcls-side --workload shd-ff --hidden 512 --max-delay 64 --samples 8 --batch 2 --repeat $R
  # DCLS's own setting: 140 channels (700 summed in 5s), 10 ms steps, 100 steps, max delay 25.
  # 10,000 uniform events fall into 14000 (1 - e^(-10000/14000)) ~ 7100 distinct (channel, bin) cells.
  run dcls-published --workload shd-ff --hidden 256 --channels 140 --dt 10 --steps 100 --max-delay 25 --input-spikes 7100 --samples 64 --batch 16 --repeat $R
fi
# 3. Scaling: batch, hidden size, max delay (2 threads where it matters).
if [ $quick = 0 ] && want scale; then
  for b in 1 2 4 16 64; do run scale-batch --workload shd-rec --hidden 256 --max-delay 64 --threads 2 --samples 64 --batch $b --repeat 2; done
  for h in 64 128 256 512 1024; do run scale-hidden --workload shd-rec --hidden $h --max-delay 64 --threads 1 --samples 8 --batch 8 --repeat 2; done
  for d in 16 64 256 1023 1024 4096; do run scale-delay --workload shd-rec --hidden 256 --max-delay $d --threads 1 --samples 8 --batch 8 --repeat 2; done
  run paper-shd --workload shd-rec --hidden 512 --max-delay 1000 --threads 2 --samples 16 --batch 16 --repeat 2
  run paper-ssc --workload shd-ff --hidden 1024 --outputs 35 --max-delay 1000 --threads 2 --samples 8 --batch 8 --repeat 1 2>/dev/null || true
fi
# 4. The other task shapes.
if want shapes; then
  run braille --workload braille --hidden 256 --max-delay 1000 --threads 1 --samples 16 --batch 16 --repeat $R
  run yinyang --workload yinyang --hidden 30 --max-delay 1000 --threads 1 --samples 64 --batch 64 --repeat $R
fi

# 5. DCLS (PyTorch, CPU, 1 thread).
if want dcls; then
  if [ ! -x "$VENV/bin/python" ]; then
    echo "no $VENV: run bench/dcls/setup.sh first (or pass --no-dcls)" >&2
  else
    : > "$theirs"
    dcls_run() {  # dcls_run TAG ARGS...
      local tag="$1"; shift
      local line rc
      line=$(timeout "$DCLS_CAP" "$VENV/bin/python" bench/dcls/dcls_bench.py "$@" --time-cap "$DCLS_CAP" 2>/tmp/dcls_err.$$)
      rc=$?
      if [ $rc -ne 0 ] || [ -z "$line" ]; then
        # Record what did not finish: over the time cap (124) or out of memory / error.
        line=$(/usr/bin/python3 -c "import json, sys; a = sys.argv[2:]; d = dict(zip([x.lstrip('-').replace('-', '_') for x in a[0::2]], a[1::2])); d.update(impl='dcls', failed=True, rc=int(sys.argv[1]), reason='time cap' if sys.argv[1] == '124' else 'error (see stderr; e.g. out of memory)'); print(json.dumps(d))" "$rc" "$@")
        tail -3 /tmp/dcls_err.$$ >&2
      fi
      rm -f /tmp/dcls_err.$$
      echo "$line" | /usr/bin/python3 -c "import sys, json; j = json.loads(sys.stdin.read()); j['tag'] = '$tag'; print(json.dumps(j))" >> "$theirs"
      echo "dcls $tag: $line"
    }
    for d in $delays; do dcls_run dcls-side --hidden 256 --max-delay $d --batch 2 --iters 1; done
    dcls_run dcls-side --hidden 512 --max-delay 64 --batch 2 --iters 1
    dcls_run dcls-published --channels 140 --steps 100 --dt 10 --max-delay 25 --tau 1.005 --input-spikes 7100 --batch 16 --iters 2
  fi
fi

# 6. Tables into docs/BENCHMARKS.md, plots into docs/img (plots need the venv's matplotlib).
/usr/bin/python3 bench/report.py --ours "$ours" --dcls "$theirs" --doc docs/BENCHMARKS.md
if [ -x "$VENV/bin/python" ]; then
  "$VENV/bin/python" bench/plot.py --ours "$ours" --dcls "$theirs" --out docs/img
fi
