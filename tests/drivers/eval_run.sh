#!/usr/bin/env bash
# Using a trained network, end to end (docs/FORMATS.md "Model files", README "Drivers"):
# trains the small task of eval_small.toml on data with duplicate events and summed channels;
# then delayprop-eval --run DIR --split test --params best reproduces the trainer's test loss
# and accuracy exactly; delayprop-grad on the model file and on the checkpoint gives the same
# accuracy and the loss within 1e-12 relative; so does delayprop-eval under mpirun -np 2.
# Confusion rows sum to the class counts; the PNGs decode (zlib) to the expected size with
# more than one colour. Bad input fails with one line naming the file and field. The
# checked-in version-1 model file is still read.
#   eval_run.sh BUILD_DIR SOURCE_DIR [MPIEXEC NP_FLAG MPIEXEC_FLAGS...]
set -euo pipefail
build=$1; src=$2; shift 2
mpi=("$@")
py=/usr/bin/python3
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

$py "$src/tests/drivers/make_eval_data.py" "$out/data"
"$build/delayprop-train" --config "$src/tests/drivers/eval_small.toml" --set data.path="$out/data" \
  --out "$out/run" --quiet > "$out/train.log" 2>&1 || { cat "$out/train.log"; fail "training failed"; }
head -1 "$out/run/metrics.jsonl" | grep -q '"record":"header"' || fail "metrics.jsonl does not start with the header record"

"$build/delayprop-eval" --run "$out/run" --split test --params best --rasters 2 > "$out/eval.log" 2>&1 \
  || { cat "$out/eval.log"; fail "delayprop-eval failed"; }
cat "$out/eval.log"
"$build/delayprop-grad" --model "$out/run/model.h5" --input "$out/data/test.h5" --out "$out/grad_model.h5" \
  > "$out/grad.log" 2>&1 || { cat "$out/grad.log"; fail "delayprop-grad --model model.h5 failed"; }
"$build/delayprop-grad" --params "$out/run/checkpoint.h5" --input "$out/data/test.h5" --loss-only \
  --out "$out/grad_ckpt.h5" > "$out/grad2.log" 2>&1 || { cat "$out/grad2.log"; fail "delayprop-grad --params checkpoint.h5 failed"; }
"$build/delayprop-eval" --model "$out/run/model.h5" --input "$out/data/unlabelled.h5" --out "$out/unlabelled" \
  > "$out/unl.log" 2>&1 || { cat "$out/unl.log"; fail "delayprop-eval on a file without labels failed"; }
# A model file made on demand from the checkpoint evaluates alike.
"$build/delayprop-eval" --model "$out/run/checkpoint.h5" --export-model "$out/exported.h5" > /dev/null
"$build/delayprop-eval" --model "$out/exported.h5" --split test --out "$out/exported_eval" > /dev/null
if [ ${#mpi[@]} -gt 0 ]; then
  timeout 120 "${mpi[@]}" 2 "$build/delayprop-eval" --run "$out/run" --split test --out "$out/np2" \
    > "$out/np2.log" 2>&1 || { cat "$out/np2.log"; fail "delayprop-eval under mpirun -np 2 failed"; }
fi
# Learning curves and delay histograms of the run.
$py "$src/tools/plot_run.py" "$out/run" --epochs 1,last > /dev/null || fail "tools/plot_run.py failed"
[ -s "$out/run/figures/learning_curves.png" ] && [ -s "$out/run/figures/delays.png" ] || fail "plot_run.py wrote no figures"
# Resume skips the header record and writes one anew: one header, then epochs 1..4.
"$build/delayprop-train" --config "$src/tests/drivers/eval_small.toml" --set data.path="$out/data" \
  --set train.epochs=2 --out "$out/resumed" --quiet > /dev/null 2>&1 || fail "training 2 epochs failed"
"$build/delayprop-train" --config "$src/tests/drivers/eval_small.toml" --set data.path="$out/data" \
  --out "$out/resumed" --resume --quiet > /dev/null 2>&1 || fail "resuming failed"
$py - "$out/resumed/metrics.jsonl" <<'PY' || fail "metrics.jsonl after resume"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0].get("record") == "header" and sum(r.get("record") == "header" for r in rows) == 1, rows[:2]
assert [r["epoch"] for r in rows[1:]] == [1, 2, 3, 4], [r.get("epoch") for r in rows]
PY

# Bad input: one line naming the file and the field, non-zero exit.
source "$src/tests/support/bad_input.sh"
sed 's/size = 12/size = 7/' "$src/tests/drivers/eval_small.toml" > "$out/other.toml"
bad "model of another network" "model.h5" "'/params/in_hid/weights'" "another network" -- \
  "$build/delayprop-grad" --config "$out/other.toml" --model "$out/run/model.h5" --input "$out/data/test.h5" --out "$out/x.h5"
bad "checkpoint of another network" "checkpoint.h5" "best_params_flat" -- \
  "$build/delayprop-eval" --config "$out/other.toml" --set data.path="$out/data" --model "$out/run/checkpoint.h5" --out "$out/x"
bad "a split that does not exist" "model.h5" "no validation split" "data.validation" -- \
  "$build/delayprop-eval" --run "$out/run" --split valid --set data.validation=none
bad "an unknown split" "--split" -- "$build/delayprop-eval" --run "$out/run" --split holdout
cp "$out/run/model.h5" "$out/newer.h5"
$py -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f['format_version']; f['format_version']=2" "$out/newer.h5" && $py "$src/tests/drivers/reseal.py" "$out/newer.h5"
bad "a newer format version" "newer.h5" "'/format_version' is 2" "newer" -- \
  "$build/delayprop-eval" --model "$out/newer.h5" --split test --out "$out/x"
bad "ms times without time_unit" "ms_without_unit.h5" "time_unit" -- \
  "$build/delayprop-eval" --run "$out/run" --input "$out/data/ms_without_unit.h5"
bad "ms times without time_unit (grad)" "ms_without_unit.h5" "time_unit" -- \
  "$build/delayprop-grad" --model "$out/run/model.h5" --input "$out/data/ms_without_unit.h5" --out "$out/x.h5"
mkdir -p "$out/data_ms" && cp "$out/data/ms_without_unit.h5" "$out/data_ms/train.h5" && cp "$out/data/ms_without_unit.h5" "$out/data_ms/test.h5"
bad "training on ms times without time_unit" "data_ms/train.h5" "the training split" "time_unit" -- \
  "$build/delayprop-train" --config "$src/tests/drivers/eval_small.toml" --set data.path="$out/data_ms" --out "$out/x" --quiet

# The checked-in model file of format version 1 is read: its parameters come back unchanged.
"$build/delayprop-grad" --model "$src/tests/drivers/fixtures/model_v1.h5" --input "$out/data/test.h5" --loss-only \
  --out "$out/fixture.h5" > /dev/null || fail "the version-1 fixture could not be used"

$py - "$out" "$src" "${#mpi[@]}" <<'PY'
import json, sys, zlib, struct, csv
import h5py, numpy as np
out, src, have_mpi = sys.argv[1], sys.argv[2], int(sys.argv[3]) > 0
status = 0
def check(ok, what):
    global status
    print(("ok   " if ok else "FAIL ") + what)
    if not ok: status = 1
def rel(a, b): return abs(a - b) / max(abs(b), 1e-300)

s = json.load(open(f"{out}/run/summary.json"))
e = json.load(open(f"{out}/run/eval-test-best/eval.json"))
check(e["loss"] == s["test_loss"], f"eval loss {e['loss']!r} == trainer's test loss {s['test_loss']!r}")
check(e["accuracy"] == s["test_accuracy"], f"eval accuracy {e['accuracy']!r} == trainer's {s['test_accuracy']!r}")
check(e["merged_events"] > 0 and e["dropped_late_events"] > 0, f"the data had duplicates ({e['merged_events']} merged) and late events ({e['dropped_late_events']})")
for name in ("grad_model", "grad_ckpt"):
    with h5py.File(f"{out}/{name}.h5") as g:
        n = g["prediction"].shape[0]
        acc = float(g["correct"][()]) / n
        check(acc == s["test_accuracy"], f"{name}: accuracy {acc!r} == {s['test_accuracy']!r}")
        check(rel(float(g["loss"][()]), s["test_loss"]) <= 1e-12, f"{name}: loss {float(g['loss'][()])!r} within 1e-12 of {s['test_loss']!r}")
with h5py.File(f"{out}/run/eval-test-best/predictions.h5") as p, h5py.File(f"{out}/grad_model.h5") as g:
    check(np.array_equal(p["prediction"][()], g["prediction"][()]), "eval's predictions == grad's")
    check(np.array_equal(p["readouts"][()], g["readouts"][()]), "eval's readouts == grad's")
x = json.load(open(f"{out}/exported_eval/eval.json"))
check(x["loss"] == s["test_loss"] and x["accuracy"] == s["test_accuracy"], "a model exported from the checkpoint evaluates alike")
if have_mpi:
    m = json.load(open(f"{out}/np2/eval.json"))
    check(m["world_size"] == 2, "mpirun: world_size 2")
    check(m["accuracy"] == s["test_accuracy"], f"2 ranks: accuracy {m['accuracy']!r}")
    check(rel(m["loss"], s["test_loss"]) <= 1e-12, f"2 ranks: loss {m['loss']!r} within 1e-12 relative")
    with h5py.File(f"{out}/np2/predictions.h5") as a, h5py.File(f"{out}/run/eval-test-best/predictions.h5") as b:
        check(np.array_equal(a["readouts"][()], b["readouts"][()]), "2 ranks: the same readouts")

labels = np.loadtxt(f"{out}/data/test_labels.txt", dtype=int)
counts = np.bincount(labels, minlength=3)
rows = list(csv.reader(open(f"{out}/run/eval-test-best/confusion.csv")))
cm = np.array([[int(v) for v in r[1:]] for r in rows[1:]])
check(cm.shape == (3, 3) and list(cm.sum(axis=1)) == list(counts), f"confusion rows sum to the class counts {list(counts)}")
check(cm.trace() == e["correct"], "confusion diagonal == correct")
pc = e["per_class_accuracy"]
check(all(abs(pc[k] - cm[k, k] / counts[k]) < 1e-15 for k in range(3)), "per-class accuracy == diagonal / class count")
u = json.load(open(f"{out}/unlabelled/eval.json"))
check(not u["has_labels"] and "accuracy" not in u, "a file without labels gives predictions only")

def png(path):
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "signature"
    pos, idat, w, h = 8, b"", None, None
    while pos < len(b):
        n, = struct.unpack(">I", b[pos:pos + 4]); t = b[pos + 4:pos + 8]; d = b[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(t + d) & 0xffffffff == crc, "crc"
        if t == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", d[:10]); assert (depth, ctype) == (8, 2)
        if t == b"IDAT": idat += d
        pos += 12 + n
    raw = zlib.decompress(idat)
    assert len(raw) == h * (3 * w + 1)
    px = np.frombuffer(raw, np.uint8).reshape(h, 3 * w + 1)
    assert (px[:, 0] == 0).all()
    img = px[:, 1:].reshape(h, w, 3)
    return w, h, len(np.unique(img.reshape(-1, 3), axis=0))
w, h, colours = png(f"{out}/run/eval-test-best/confusion.png")
check((w, h) == (97, 97) and colours > 1, f"confusion.png: {w} x {h}, {colours} colours (expected 97 x 97, > 1)")
for i in range(2):
    w, h, colours = png(f"{out}/run/eval-test-best/raster_{i}.png")
    # 30 steps at 20 px; panels: input 4 rows x 12 px, hid 12 x 12, out 3 x 12, 4 px gaps
    check((w, h) == (600, 4 * 12 + 12 * 12 + 3 * 12 + 12) and colours > 2, f"raster_{i}.png: {w} x {h}, {colours} colours")
with h5py.File(f"{out}/run/eval-test-best/rasters.h5") as r:
    check(r["sample_0/hid/steps"].shape[0] > 0 and r["sample_0/input/steps"].shape[0] > 0, "rasters.h5 has input and hidden spikes")
with h5py.File(f"{out}/run/model.h5") as f:
    check(f.attrs["format"] in ("delayprop-model", b"delayprop-model") and f["format_version"][()] == 1, "model.h5: format 1")
    for k in ("config", "params/in_hid/weights", "last_params/hid_out/delays", "data/fingerprint", "build/version", "build/git_commit", "build/options"):
        check(k in f, f"model.h5 has /{k}")
    check(f["data/fingerprint"][()].decode() == s["data_fingerprint"], "model.h5 data fingerprint == summary's")
with h5py.File(f"{src}/tests/drivers/fixtures/model_v1.h5") as f, h5py.File(f"{out}/fixture.h5") as g:
    check(all(np.array_equal(f[f"params/{c}/{w}"][()], g[f"params/{c}/{w}"][()]) for c in ("in_hid", "hid_out") for w in ("weights", "delays")),
          "the version-1 fixture's parameters are read unchanged")
for k in ("version", "git_commit", "build_options"):
    check(k in s, f"summary.json has {k}")
sys.exit(status)
PY
