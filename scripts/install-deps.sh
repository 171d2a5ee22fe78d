#!/usr/bin/env bash
# Installs the Debian 12 packages delayprop builds and tests with. Idempotent; run as root
# (or with sudo). The CUDA toolkit is not a Debian package: CMake finds it when present and
# builds without it otherwise. NCCL is loaded at run time when present (docs/GPU.md).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
pkgs=(build-essential cmake ninja-build pkg-config
      libhdf5-dev libtomlplusplus-dev nlohmann-json3-dev
      libgtest-dev openmpi-bin libopenmpi-dev python3 python3-numpy python3-h5py python3-matplotlib)
# --with-slurm: also a SLURM controller, node daemon and munge, for the SLURM sweep test.
if [ "${1:-}" = "--with-slurm" ]; then pkgs+=(slurm-wlm munge); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
