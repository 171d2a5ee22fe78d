#!/usr/bin/env bash
# NIR export and import (docs/NIR.md), with the tools' environment (.venv):
# - round trip: trains nir_ff.toml (feedforward, per-synapse delays, LI readout) and
#   nir_rec.toml (recurrent, first-spike LIF outputs); tools/nir_export.py -> .nir file ->
#   nir.read in tools/nir_import.py -> config and model file; delayprop-eval runs both models on
#   the same test batch: every spike of every population, the readouts, first-spike steps and
#   spike counts are bitwise equal, and so are the parameters;
# - the mapping: the exported values of nir_ff.toml are those docs/NIR.md gives; edited through
#   the nir API, the graph imports with the edited values;
# - meaning: a graph built with the nir API (one input, Delay, Linear, one CubaLIF) imports to a
#   neuron whose first spike is the closed-form first crossing within one step;
# - unsupported nodes and bad input: one line naming the node or file, non-zero exit.
#   nir_run.sh BUILD_DIR SOURCE_DIR PYTHON
set -euo pipefail
build=$1; src=$2; py=$3
fail() { echo "FAIL: $*"; exit 1; }
[ -x "$py" ] && "$py" -c "import nir, h5py, numpy" 2> /dev/null \
  || fail "no Python with nir at $py: create it with 'bash scripts/install-deps.sh' (makes .venv)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export PYTHONDONTWRITEBYTECODE=1

"$py" "$src/tests/drivers/make_eval_data.py" "$out/data"
for net in ff rec; do
  "$build/delayprop-train" --config "$src/tests/nir/nir_$net.toml" --set data.path="$out/data" \
    --out "$out/run_$net" --quiet > "$out/train.log" 2>&1 || { cat "$out/train.log"; fail "training nir_$net failed"; }
  "$py" "$src/tools/nir_export.py" "$out/run_$net" --out "$out/$net.nir" || fail "export of nir_$net failed"
  "$py" "$src/tools/nir_import.py" "$out/$net.nir" --out "$out/imported_$net" || fail "import of nir_$net failed"
  for m in "run_$net" "imported_$net"; do
    "$build/delayprop-eval" --model "$out/$m/model.h5" --input "$out/data/test.h5" --rasters 45 \
      --out "$out/eval_$m" > "$out/eval.log" 2>&1 || { cat "$out/eval.log"; fail "delayprop-eval on $m failed"; }
  done
  echo "== round trip nir_$net.toml"
  "$py" "$src/tests/nir/check_nir.py" same "$out/eval_run_$net" "$out/eval_imported_$net" \
    "$out/run_$net/model.h5" "$out/imported_$net/model.h5" || fail "round trip of nir_$net"
done
# Delays rounded to steps (one Delay -> Linear pair per step): the same spikes.
"$py" "$src/tools/nir_export.py" "$out/run_rec" --delays steps --out "$out/rec_steps.nir" || fail "export --delays steps"
"$py" "$src/tools/nir_import.py" "$out/rec_steps.nir" --out "$out/imported_steps" || fail "import of rec_steps.nir"
"$build/delayprop-eval" --model "$out/imported_steps/model.h5" --input "$out/data/test.h5" --rasters 45 \
  --out "$out/eval_imported_steps" > "$out/eval.log" 2>&1 || { cat "$out/eval.log"; fail "delayprop-eval on imported_steps"; }
echo "== round trip nir_rec.toml, --delays steps"
"$py" "$src/tests/nir/check_nir.py" same "$out/eval_run_rec" "$out/eval_imported_steps" \
  "$out/run_rec/model.h5" "$out/imported_steps/model.h5" steps || fail "round trip of nir_rec with --delays steps"
echo "== exported values (nir_ff.toml)"
"$py" "$src/tests/nir/check_nir.py" mapping "$out/ff.nir" "$out/run_ff/model.h5" "$src/tests/nir/nir_ff.toml" \
  || fail "the exported values"

echo "== an exported graph edited with the nir API"
"$py" "$src/tests/nir/check_nir.py" edited "$out/ff.nir" "$out/run_ff/model.h5" "$out" "$src" || fail "the edited graph"

echo "== a CubaLIF graph built with the nir API"
dt=0.05
"$py" "$src/tests/nir/check_nir.py" hand-graph "$out"
"$py" "$src/tools/nir_import.py" "$out/hand.nir" --out "$out/hand" --dt $dt --duration 40 || fail "import of hand.nir"
"$build/delayprop-eval" --model "$out/hand/model.h5" --input "$out/spike.h5" --out "$out/eval" > "$out/eval.log" 2>&1 \
  || { cat "$out/eval.log"; fail "delayprop-eval on the imported hand-built graph"; }
"$py" "$src/tests/nir/check_nir.py" first-spike "$out" $dt || fail "the first spike of the hand-built graph"

echo "== other shapes: Delay after Linear, Scale, a recurrent Affine, r and w_in not 1"
"$py" "$src/tests/nir/check_nir.py" routes "$out" "$src" || fail "the imported values of routes.nir"

echo "== unsupported nodes and bad input"
source "$src/tests/support/bad_input.sh"
"$py" "$src/tests/nir/check_nir.py" bad-graphs "$out"
imp=("$py" "$src/tools/nir_import.py")
exp=("$py" "$src/tools/nir_export.py")
bad "a Conv2d node" "node 'conv'" "Conv2d is not supported" -- "${imp[@]}" "$out/bad_conv.nir" --out "$out/x" --dt 1 --duration 10
bad "a LIF node" "node 'plain'" "LIF is not supported" -- "${imp[@]}" "$out/bad_lif.nir" --out "$out/x" --dt 1 --duration 10
bad "a CubaLIF with a leak voltage" "node 'leaky'" "v_leak" -- "${imp[@]}" "$out/bad_leak.nir" --out "$out/x" --dt 1 --duration 10
bad "import: missing file" "$out/none.nir" "no such file" -- "${imp[@]}" "$out/none.nir" --out "$out/x"
echo "not hdf5" > "$out/text.nir"
bad "import: a text file" "text.nir" "not an HDF5 file" -- "${imp[@]}" "$out/text.nir" --out "$out/x"
head -c 2000 "$out/ff.nir" > "$out/truncated.nir"
bad "import: a truncated NIR file" "truncated.nir" "cannot read" -- "${imp[@]}" "$out/truncated.nir" --out "$out/x"
bad "import: a model file" "model.h5" "not a NIR graph" -- "${imp[@]}" "$out/run_ff/model.h5" --out "$out/x"
bad "import: no time step" "hand.nir" "--dt and --duration" -- "${imp[@]}" "$out/hand.nir" --out "$out/x"
bad "import: usage" "--out" -- "${imp[@]}" "$out/hand.nir"
bad "export: missing file" "$out/none.h5" "no such file" -- "${exp[@]}" "$out/none.h5" --out "$out/x.nir"
bad "export: a NIR file" "ff.nir" "not a delayprop model file" -- "${exp[@]}" "$out/ff.nir" --out "$out/x.nir"
bad "export: a checkpoint" "checkpoint.h5" "--export-model" -- "${exp[@]}" "$out/run_ff/checkpoint.h5" --out "$out/x.nir"
head -c 3000 "$out/run_ff/model.h5" > "$out/truncated.h5"
bad "export: a truncated model file" "truncated.h5" "cannot read" -- "${exp[@]}" "$out/truncated.h5" --out "$out/x.nir"
bad "export: a text file" "text.nir" "not an HDF5 file" -- "${exp[@]}" "$out/text.nir" --out "$out/x.nir"
bad "export: too large an expansion" "in_hid" "--max-values 100" -- "${exp[@]}" "$out/run_ff" --out "$out/x.nir" --max-values 100
echo "NIR: all checks passed"
