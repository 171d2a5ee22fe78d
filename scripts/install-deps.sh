#!/usr/bin/env bash
# Installs the Debian 12 packages delayprop builds and tests with, and the tools' Python
# environment .venv-tools (the pinned packages of tools/requirements-nir.txt, for the NIR tools
# and their tests, docs/NIR.md). Idempotent; run as root (or with sudo). The CUDA toolkit is
# not a Debian package: CMake finds it when present and builds without it otherwise. NCCL is
# loaded at run time when present (docs/GPU.md).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
pkgs=(build-essential cmake ninja-build pkg-config
      libhdf5-dev libtomlplusplus-dev nlohmann-json3-dev
      libgtest-dev openmpi-bin libopenmpi-dev python3 python3-numpy python3-h5py python3-matplotlib python3-venv)
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

# The tools' environment, inside the repository (git-ignored); made anew only when a pinned
# version is missing, so that the tests then run offline.
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$root/.venv-tools
req=$root/tools/requirements-nir.txt
if ! "$venv/bin/python" - "$req" > /dev/null 2>&1 <<'PY'
import sys, importlib.metadata as m
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, version = line.split("==")
        assert m.version(name) == version, name
PY
then
  if ! { /usr/bin/python3 -m venv --clear "$venv" &&
         "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"; }; then
    rm -rf "$venv"
    echo "install-deps.sh: could not create .venv-tools (pip needs PyPI for tools/requirements-nir.txt); the NIR tools and their test need it" >&2
    exit 1
  fi
fi
