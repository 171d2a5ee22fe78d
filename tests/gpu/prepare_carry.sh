#!/usr/bin/env bash
# Prepares build-carry/ (git-ignored) for a GPU machine, here on the CPU machine (nvcc is
# enough): the self-contained device check and the wheel of the DCLS peer benchmark
# (pinned; the GPU machine brings its own PyTorch). docs/GPU.md, "Device check".
#   bash tests/gpu/prepare_carry.sh [BUILD_DIR]      (default: build)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:-$repo/build}"
cmake --build "$build" --target delayprop-device-check
mkdir -p "$repo/build-carry/wheels"
cp "$build/delayprop-device-check" "$repo/build-carry/"
python3 -m pip download -q --disable-pip-version-check --no-deps -d "$repo/build-carry/wheels" dcls==0.1.1
ls -l "$repo/build-carry" "$repo/build-carry/wheels"
