#!/usr/bin/env bash
# Builds the self-contained GPU check on the GPU machine (needs only the CUDA toolkit, CMake,
# ninja and g++) and runs it: CPU vs GPU, determinism, sequence task, NCCL, sanitizers,
# benchmark. Without a toolkit there, carry the prebuilt binary and use
# tests/gpu/run_device_check.sh instead (docs/GPU.md). Run from anywhere; the build goes to
# <repo>/build-gpu-check. Budget: about 1 minute to build, 1-2 minutes to run
# on one H200. Extra arguments go to the check (e.g. --skip-bench).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${DELAYPROP_GPU_CHECK_BUILD:-$repo/build-gpu-check}"
arch="${CUDA_ARCH:-90}"
export PATH="/usr/local/cuda/bin:$PATH"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
start=$(date +%s)
mkdir -p "$build"
cmake -S "$repo" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DDELAYPROP_GPU_CHECK_ONLY=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 2; }
cmake --build "$build" -j "$(nproc)" > "$build/build.log" 2>&1 || { tail -50 "$build/build.log"; exit 2; }
echo "built in $(( $(date +%s) - start )) s"
timeout 240 "$build/delayprop-device-check" --json "${OUT:-$build}/device_check.json" "$@"
