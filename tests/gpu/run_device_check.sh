#!/usr/bin/env bash
# Runs the prebuilt device check on a GPU machine: no build step, no toolkit needed (the
# binary has the CUDA runtime linked in and loads NCCL by dlopen; docs/GPU.md, "Device
# check"). Writes $OUT/device_check.json, $OUT/device_check.log (and the sanitizer logs),
# then the DCLS peer's $OUT/dcls.json and $OUT/dcls.log;
# OUT defaults to ./device-check-out. Exit status: the check's (0 pass or skip, 1 fail), 3
# when no binary was found. Extra arguments go to the check (e.g. --skip-bench).
#
#   Here:  bash tests/gpu/prepare_carry.sh               (the binary and the dcls wheel)
#   There: bash tests/gpu/run_device_check.sh            (carrying build-carry/)
set -uo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${OUT:-$PWD/device-check-out}"
mkdir -p "$out"
bin=""
for c in "${DELAYPROP_DEVICE_CHECK:-}" "$repo/build-carry/delayprop-device-check" "$repo/build/delayprop-device-check" \
         "$repo/build-gpu-check/delayprop-device-check"; do
  [[ -n "$c" && -f "$c" ]] && { bin="$c"; break; }
done
if [[ -z "$bin" ]]; then
  echo "no delayprop-device-check binary (build it here and carry build-carry/, see docs/GPU.md)" | tee "$out/device_check.log"
  exit 3
fi
[[ -x "$bin" ]] || { cp "$bin" /tmp/delayprop-device-check && chmod +x /tmp/delayprop-device-check && bin=/tmp/delayprop-device-check; }
{
  echo "binary: $bin ($(stat -c %s "$bin") bytes)"
  uname -a
  ldd --version 2>&1 | head -1
  ldd "$bin" 2>&1
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  ls -l /dev/nvidia* 2>&1 | head -5
} > "$out/environment.txt" 2>&1
cat "$out/environment.txt"
# NCCL: the loader's path, else a Python wheel's copy (nvidia-nccl-cu*), found once here.
if [[ -z "${DELAYPROP_NCCL_LIB:-}" ]] && ! ldconfig -p 2>/dev/null | grep -q 'libnccl\.so\.2'; then
  lib=$(python3 - <<'PY' 2>/dev/null
import glob, site, sys
dirs = list(getattr(site, "getsitepackages", lambda: [])()) + [site.getusersitepackages()] + sys.path
for d in dirs:
    hits = glob.glob(f"{d}/nvidia/nccl/lib/libnccl.so.2")
    if hits:
        print(hits[0]); break
PY
)
  [[ -z "$lib" ]] && lib=$(timeout 20 find / -xdev -name libnccl.so.2 -path '*nccl/lib*' 2>/dev/null | head -1)
  if [[ -n "$lib" ]]; then export DELAYPROP_NCCL_LIB="$lib"; echo "NCCL: $lib"; else echo "NCCL: not found"; fi
fi
# The whole check within 3 minutes: the device check's own budget is 115 s (the benchmark
# and the sanitizer runs shrink to fit), the DCLS peer's 45 s.
cd "$out"
timeout -k 10 125 "$bin" --json "$out/device_check.json" --budget-s 115 "$@" 2>&1 | tee "$out/device_check.log"
rc=${PIPESTATUS[0]}
echo "exit status $rc" | tee -a "$out/device_check.log"
# The DCLS peer (tests/gpu/dcls_bench.py): the machine's PyTorch, the dcls wheel carried in
# build-carry/wheels (tests/gpu/prepare_carry.sh); ratios against the rows just measured.
wheel=$(ls "$repo"/build-carry/wheels/dcls-*.whl 2>/dev/null | head -1)
if [[ -z "$wheel" ]]; then
  echo "DCLS: not run (no dcls wheel in build-carry/wheels: tests/gpu/prepare_carry.sh)" | tee "$out/dcls.log"
elif ! python3 -c "import torch" 2>/dev/null; then
  echo "DCLS: not run (python3 has no torch)" | tee "$out/dcls.log"
else
  python3 -m zipfile -e "$wheel" "$out/dcls-site"
  PYTHONPATH="$out/dcls-site" timeout -k 5 50 python3 "$repo/tests/gpu/dcls_bench.py" --budget-s 40 \
    --json "$out/dcls.json" --ours "$out/device_check.json" 2>&1 | tee "$out/dcls.log"
  echo "DCLS exit status ${PIPESTATUS[0]}" | tee -a "$out/dcls.log"
fi
exit "$rc"
