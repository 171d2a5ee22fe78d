#!/usr/bin/env bash
# Runs that survive faults (docs/FORMATS.md "Checkpoints", docs/CONFIG.md "Resuming"):
#  - killed (SIGKILL) at seeded points -- batches, halfway through checkpoint writes, and
#    again during the resumed run -- then resumed: final parameters bitwise those of an
#    uninterrupted run, metrics.jsonl complete (one header, every epoch once, same values);
#  - a checkpoint write failing with ENOSPC (DELAYPROP_TEST_FULL: the bytes go to /dev/full):
#    one line naming the error, exit 1 (no signal), the previous checkpoint intact and resumable;
#  - bits flipped at many offsets of a checkpoint: detected (refused, or the previous one
#    used), never a silently different result; NaN in the newest -> the previous one, named;
#  - a checkpoint of format 1 (fixture) is read;
#  - immutable run records: a used directory needs --resume or --overwrite; --resume with a
#    changed config is refused (config.toml untouched) unless the key is allowed or --force;
#  - stop requests: SIGTERM (from outside) -> checkpoint, exit 75, resume bit-exact; under
#    mpirun -np 2 one rank signalled -> both stop at the same batch, exit 75, resume under 3
#    ranks bit-exact.
#   run_records.sh BUILD_DIR SOURCE_DIR [MPIEXEC MPIEXEC_FLAGS... NP_FLAG]
set -euo pipefail
build=$1; src=$2; shift 2
mpi=("$@")
py=/usr/bin/python3
train=$build/delayprop-train
cfg=$src/tests/dist/yinyang_small.toml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
base=(--config "$cfg" --set train.epochs=4 --set train.checkpoint_batches=1 --threads 1 --quiet)
run() {  # DIR [args...]: exit status, output in DIR.log
  local dir=$1; shift
  set +e
  timeout 120 "$train" "${base[@]}" --out "$dir" "$@" >> "$dir.log" 2>&1
  local rc=$?
  set -e
  return $rc
}
same() {  # DIR: final parameters and metrics as the reference run
  $py - "$out/ref" "$1" <<'PY' || fail "$1 differs from the uninterrupted run"
import json, sys
import h5py, numpy as np
ref, run = sys.argv[1:3]
def p(d):
    with h5py.File(d + "/checkpoint.h5", "r") as f:
        return f["/params_flat"][()], f["/best_params_flat"][()]
a, b = p(ref), p(run)
for x, y, what in zip(a, b, ("params", "best params")):
    if x.shape != y.shape or np.any(x.view(np.uint64) != y.view(np.uint64)):
        sys.exit(f"{run}: final {what} differ in their bits")
def rows(d):
    lines = [json.loads(l) for l in open(d + "/metrics.jsonl")]
    if lines[0].get("record") != "header" or any("record" in l for l in lines[1:]):
        sys.exit(f"{d}: metrics.jsonl: one header record first expected")
    drop = ("epoch_time_s", "time_split_s", "dropped_late_events_so_far")
    return [{k: v for k, v in l.items() if k not in drop} for l in lines[1:]]
ra, rb = rows(ref), rows(run)
if [r["epoch"] for r in rb] != [1, 2, 3, 4]:
    sys.exit(f"{run}: metrics.jsonl epochs {[r['epoch'] for r in rb]}, expected 1..4")
def close(x, y):  # loss sums over other rank counts round differently: 1e-12 relative
    if isinstance(x, dict):
        return isinstance(y, dict) and x.keys() == y.keys() and all(close(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return isinstance(y, list) and len(x) == len(y) and all(close(a, b) for a, b in zip(x, y))
    if isinstance(x, float) or isinstance(y, float):
        return abs(x - y) <= 1e-12 * max(abs(x), abs(y), 1e-300)
    return x == y
if not close(ra, rb):
    sys.exit(f"{run}: metrics.jsonl values differ from the uninterrupted run")
sa, sb = (json.load(open(d + "/summary.json")) for d in (ref, run))
for k in ("test_accuracy", "test_loss", "best_epoch", "train_accuracy", "loss"):
    if not close(sa[k], sb[k]):
        sys.exit(f"{run}: summary {k} {sb[k]} != {sa[k]}")
PY
}

run "$out/ref" || { cat "$out/ref.log"; fail "the uninterrupted run failed"; }

# --- seeded kill points, incl. during checkpoint writes and during the resumed run ---------
n=0
for kills in "batch:2" "batch:7" "checkpoint:1" "checkpoint:6" "batch:3 batch:4" "checkpoint:4 checkpoint:2" \
             "batch:5 checkpoint:3"; do
  n=$((n + 1)); d=$out/kill$n; first=1
  for k in $kills; do
    if [ $first = 1 ]; then DELAYPROP_TEST_KILL=$k run "$d" && fail "kill $k: exited 0" || rc=$?
    else DELAYPROP_TEST_KILL=$k run "$d" --resume && fail "kill $k (resumed run): exited 0" || rc=$?; fi
    [ "$rc" = 137 ] || { cat "$d.log"; fail "kill $k: exit $rc, expected 137"; }
    first=0
  done
  run "$d" --resume || { cat "$d.log"; fail "resume after '$kills' failed"; }
  same "$d"
done
echo "ok: $n runs killed at seeded points (batches, checkpoint writes, resumed runs) end bit-exact"

# --- ENOSPC while writing the 5th checkpoint ------------------------------------------------
d=$out/full
DELAYPROP_TEST_FULL=checkpoint:5 run "$d" && fail "ENOSPC: exited 0" || rc=$?
[ "$rc" = 1 ] || { cat "$d.log"; fail "ENOSPC: exit $rc, expected 1 (an error, no signal)"; }
grep -q "checkpoint.h5.tmp: cannot write the checkpoint: No space left on device" "$d.log" \
  || { cat "$d.log"; fail "ENOSPC: no clear error line"; }
[ "$(grep -c error "$d.log")" = 1 ] || { cat "$d.log"; fail "ENOSPC: more than one error line"; }
[ ! -e "$d/checkpoint.h5.tmp" ] || fail "ENOSPC: a partial checkpoint.h5.tmp was left"
$py -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert (int(f['/epoch'][()]), int(f['/batch'][()])) == (1, 0), (f['/epoch'][()], f['/batch'][()])
" "$d/checkpoint.h5" || fail "ENOSPC: the previous checkpoint (after 4 batches) is not intact"
run "$d" --resume || { cat "$d.log"; fail "ENOSPC: resume failed"; }
same "$d"
echo "ok: ENOSPC -> one error line, exit 1, previous checkpoint intact and resumed bit-exact"

# A real full disk where a tmpfs can be mounted (root with CAP_SYS_ADMIN): 200 KiB hold
# the run's first checkpoints but not all; the error is one line, no signal, and the last
# checkpoint written stays usable once there is room again.
mnt=$out/tmpfs; mkdir -p "$mnt"
if mount -t tmpfs -o size=200k tmpfs "$mnt" 2>/dev/null; then
  trap 'umount "$mnt" 2>/dev/null; rm -rf "$out"' EXIT
  d=$mnt/run; log=$out/tmpfs.log
  dd if=/dev/zero of="$mnt/filler" bs=1k count=120 status=none
  set +e
  timeout 120 "$train" "${base[@]}" --set train.epochs=40 --out "$d" > "$log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 1 ] || { cat "$log"; fail "full tmpfs: exit $rc, expected 1 (an error, no signal)"; }
  [ "$(grep -c "error" "$log")" = 1 ] && grep -q "No space left on device" "$log" \
    || { cat "$log"; fail "full tmpfs: not one clear error line"; }
  grep error "$log"
  rm -f "$mnt/filler"
  cp -r "$d" "$out/tmpfs_run" && umount "$mnt"
  trap 'rm -rf "$out"' EXIT
  run "$out/tmpfs_run" --resume --set train.epochs=4 || { cat "$out/tmpfs_run.log"; fail "full tmpfs: resume failed"; }
  echo "ok: a full tmpfs -> one error line, exit 1; resumed afterwards"
else
  echo "note: cannot mount a tmpfs here; the full-disk case is covered by /dev/full above"
fi

# --- flipped bits ---------------------------------------------------------------------------
# A finished run's checkpoint, copied alone into a run directory and resumed (nothing to
# train: the summary and model are written from it), once per flipped bit.
$py - "$out" "$train" "${base[@]}" <<'PY' || fail "flipped bits"
import json, os, shutil, subprocess, sys
import h5py, numpy as np
out, train, args = sys.argv[1], sys.argv[2], sys.argv[3:]
src = open(out + "/ref/checkpoint.h5", "rb").read()
def model(d):
    with h5py.File(d + "/model.h5", "r") as f:
        return {k: f[k][()].tobytes() for k in ("/params/in_hidden/weights", "/params/hidden_out/delays",
                                                 "/last_params/in_hidden/delays", "/last_params/hidden_out/weights")}
def resume(d, data):
    shutil.rmtree(d, ignore_errors=True); os.makedirs(d)
    shutil.copy(out + "/ref/config.toml", d)
    open(d + "/checkpoint.h5", "wb").write(data)
    r = subprocess.run([train] + args + ["--out", d, "--resume"], capture_output=True, text=True, timeout=120)
    return r.returncode, r.stderr
rc, err = resume(out + "/flip_ref", src)
assert rc == 0, err
ref_model, ref_sum = model(out + "/flip_ref"), json.load(open(out + "/flip_ref/summary.json"))
# Offsets: every dataset's bytes (data), plus evenly spread ones (metadata, headers).
offsets = set(range(0, len(src), max(1, len(src) // 60)))
with h5py.File(out + "/ref/checkpoint.h5", "r") as f:
    def visit(name, obj):
        if isinstance(obj, h5py.Dataset) and obj.id.get_offset() is not None:
            o, n = obj.id.get_offset(), obj.id.get_storage_size()
            offsets.update({o, o + n // 2, o + n - 1})
    f.visititems(visit)
detected = same = 0
for i, off in enumerate(sorted(offsets)):
    data = bytearray(src)
    data[off] ^= 1 << (i % 8)
    d = out + "/flip"
    rc, err = resume(d, bytes(data))
    if rc == 0:
        if model(d) != ref_model or json.load(open(d + "/summary.json"))["test_loss"] != ref_sum["test_loss"]:
            sys.exit(f"bit {i % 8} of byte {off}: resumed with exit 0 and a different result")
        same += 1
    else:
        lines = [l for l in err.splitlines() if l.strip()]
        if rc != 1 or len(lines) != 1 or "checkpoint.h5" not in lines[0]:
            sys.exit(f"bit {i % 8} of byte {off}: exit {rc}, expected 1 and one line naming the file:\n{err}")
        detected += 1
print(f"ok: {detected + same} flipped bits: {detected} refused with one line, {same} without effect "
      f"(unused bytes), none changed the result")
PY

# Model files are sealed too: a flipped bit is refused by delayprop-eval, never used.
$py - "$out" "$build/delayprop-eval" <<'PY' || fail "flipped bits in a model file"
import json, os, shutil, subprocess, sys
out, ev = sys.argv[1:3]
src = open(out + "/ref/model.h5", "rb").read()
def evaluate(data):
    open(out + "/m.h5", "wb").write(data)
    shutil.rmtree(out + "/m_eval", ignore_errors=True)
    r = subprocess.run([ev, "--model", out + "/m.h5", "--split", "test", "--out", out + "/m_eval"],
                       capture_output=True, text=True, timeout=120)
    return r.returncode, r.stderr, (json.load(open(out + "/m_eval/eval.json"))["loss"] if r.returncode == 0 else None)
rc, err, ref = evaluate(src)
assert rc == 0, err
n = 0
for i, off in enumerate(range(512, len(src), max(1, len(src) // 40))):
    data = bytearray(src)
    data[off] ^= 1 << (i % 8)
    rc, err, loss = evaluate(bytes(data))
    lines = [l for l in err.splitlines() if l.strip()]
    if rc == 0:
        sys.exit(f"model file, bit {i % 8} of byte {off}: accepted (loss {loss}, unflipped {ref})")
    if rc != 1 or len(lines) != 1 or "checksum" not in lines[0]:
        sys.exit(f"model file, bit {i % 8} of byte {off}: exit {rc}, expected 1 and one line:\n{err}")
    n += 1
print(f"ok: {n} flipped bits in a model file: all refused with one line")
PY

# NaN in the newest checkpoint, its checksums made to match: the previous one is used, named.
d=$out/nan
DELAYPROP_TEST_KILL=batch:6 run "$d" && fail "nan: exited 0" || true
$py - "$d/checkpoint.h5" <<'PY'
import sys, h5py, numpy as np
def fnv(b, h=1469598103934665603):
    for x in b:
        h = ((h ^ x) * 1099511628211) & (2**64 - 1)
    return h
def hash_array(a):
    a = np.ascontiguousarray(a)
    return fnv(a.tobytes(), fnv(np.uint64(a.size).tobytes()))
with h5py.File(sys.argv[1], "r+") as f:
    p = f["/params_flat"][()]
    p[3] = np.nan
    f["/params_flat"][...] = p
    sums = f["/checksums"][()].decode()
    sums = "".join(f"/params_flat {hash_array(p):016x}\n" if l.startswith("/params_flat ") else l + "\n"
                   for l in sums.splitlines())
    del f["/checksums"]
    f["/checksums"] = sums
PY
$py "$src/tests/drivers/reseal.py" "$d/checkpoint.h5"  # the file's seal too
run "$d" --resume || { cat "$d.log"; fail "nan: resume failed"; }
grep -q "checkpoint.h5: '/params_flat' element 3 is nan.*resuming from .*checkpoint.prev.h5 instead" "$d.log" \
  || { cat "$d.log"; fail "nan: no warning naming both checkpoints"; }
same "$d"
echo "ok: NaN in the newest checkpoint -> the previous one, named; bit-exact"

# --- format 1 checkpoint (fixture written by the first version) ------------------------------
fx=$src/tests/drivers/fixtures/checkpoint_v1.h5
d=$out/v1; mkdir -p "$d"; cp "$fx" "$d/checkpoint.h5"
"$train" --config "$cfg" --threads 1 --quiet --out "$d" --resume > "$d.log" 2>&1 \
  || { cat "$d.log"; fail "the format-1 checkpoint fixture could not be resumed"; }
echo "ok: a format-1 checkpoint is read"

# --- immutable run records -------------------------------------------------------------------
d=$out/rec
cp -r "$out/ref" "$d"
sum_before=$(cat "$d/config.toml" "$d/metrics.jsonl" "$d/summary.json" | md5sum)
run "$d" && fail "training into a finished run without --resume/--overwrite was accepted" || true
grep -q "holds a run.*--resume.*--overwrite" "$d.log" || { cat "$d.log"; fail "no clear refusal of a used directory"; }
run "$d" --resume --set train.seed=9 && fail "--resume with a changed seed was accepted" || true
grep -q "differs from the run.s.*train.seed: .* -> 9.*--force" "$d.log" || { tail -3 "$d.log"; fail "no clear refusal of a changed config"; }
run "$d" --resume --set network.population.1.size=40 && fail "--resume with another network was accepted" || true
[ "$(cat "$d/config.toml" "$d/metrics.jsonl" "$d/summary.json" | md5sum)" = "$sum_before" ] \
  || fail "a refused run changed the run's files"
run "$d" --resume --set train.epochs=5 || { tail -3 "$d.log"; fail "--resume with more epochs (allowed) failed"; }
run "$d" --resume --set train.epochs=5 --set optimizer.lr_weights=0.02 --force \
  || { tail -3 "$d.log"; fail "--resume --force failed"; }
head -1 "$d/metrics.jsonl" | grep -q '"resumed_with_changes":\[.*optimizer.lr_weights: 0.01 -> 0.02' \
  || fail "the forced change is not logged in the metrics header"
run "$out/ref2" && run "$out/ref2" --overwrite || { tail -3 "$out/ref2.log"; fail "--overwrite failed"; }
echo "ok: used directories, changed configs refused; allowed keys, --force (logged), --overwrite work"

# --- stop requests ---------------------------------------------------------------------------
d=$out/term
"$train" "${base[@]}" --set train.epochs=40 --out "$d" > "$d.log" 2>&1 &
pid=$!
for _ in $(seq 600); do [ -f "$d/checkpoint.prev.h5" ] && break; sleep 0.1; done
kill -TERM "$pid"
set +e; wait "$pid"; rc=$?; set -e
[ "$rc" = 75 ] || { cat "$d.log"; fail "SIGTERM: exit $rc, expected 75"; }
grep -q "stopped on request after epoch .*continue with --resume" "$d.log" || { cat "$d.log"; fail "SIGTERM: no message"; }
# Finish the epoch it stopped in (train.epochs may change on resume; when the signal came is
# up to the scheduler).
stopped_in=$(grep -o "stopped on request after epoch [0-9]*" "$d.log" | grep -o "[0-9]*$")
run "$d" --resume --set train.epochs="$stopped_in" || { cat "$d.log"; fail "SIGTERM: resume failed"; }
echo "ok: SIGTERM -> checkpoint and exit 75, resumed"

if [ ${#mpi[@]} -gt 0 ]; then
  # Rank 1 of 2 signalled in its 6th batch (test hook): both stop there.
  d=$out/mpi
  set +e
  timeout 120 "${mpi[@]}" 1 "$train" "${base[@]}" --out "$d" : "${mpi[@]:1:0}" -np 1 -x DELAYPROP_TEST_KILL=batch:6:TERM \
    "$train" "${base[@]}" --out "$d" > "$d.log" 2>&1
  rc=$?
  set -e
  [ "$rc" = 75 ] || { cat "$d.log"; fail "mpirun, rank 1 signalled: exit $rc, expected 75"; }
  $py -c "
import h5py, sys
f = h5py.File(sys.argv[1], 'r')
assert (int(f['/epoch'][()]), int(f['/batch'][()]), int(f['/world_size'][()])) == (1, 2, 2), (f['/epoch'][()], f['/batch'][()])
" "$d/checkpoint.h5" || fail "mpirun: the checkpoint is not at epoch 2, batch 2"
  timeout 120 "${mpi[@]}" 3 "$train" "${base[@]}" --out "$d" --resume >> "$d.log" 2>&1 \
    || { cat "$d.log"; fail "mpirun: resume under 3 ranks failed"; }
  same "$d"
  echo "ok: one of 2 ranks signalled -> both stop at the same batch, exit 75; resumed under 3 ranks bit-exact"
fi
echo "all run-record tests passed"
