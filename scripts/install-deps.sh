#!/usr/bin/env bash
# Installs the Debian 12 packages delayprop builds and tests with. Idempotent; run as root
# (or with sudo). The CUDA toolkit is not a Debian package: CMake finds it when present and
# builds without it otherwise. NCCL is loaded at run time when present (docs/GPU.md).
# Then the Python environment .venv in the repository (git-ignored): the pinned packages of
# python/requirements.txt (the Python module's build and tests, docs/PYTHON.md) and of
# tools/requirements-nir.txt (the NIR tools, docs/NIR.md), their wheels kept in .venv/wheels
# so that the tests build and install offline.
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; fi
pkgs=(build-essential cmake ninja-build pkg-config
      libhdf5-dev libtomlplusplus-dev nlohmann-json3-dev
      libgtest-dev openmpi-bin libopenmpi-dev python3 python3-numpy python3-h5py python3-matplotlib
      python3-dev python3-venv)
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

root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
reqs=("$root/python/requirements.txt" "$root/tools/requirements-nir.txt")
stamp="$venv/.requirements.sha256"
want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  args=(--disable-pip-version-check -q -r "${reqs[0]}" -r "${reqs[1]}")
  if ! { { [ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv "$venv"; } &&
         "$venv/bin/python" -m pip download -d "$venv/wheels" "${args[@]}" &&
         "$venv/bin/python" -m pip install --no-index --find-links "$venv/wheels" "${args[@]}"; }; then
    rm -rf "$venv"
    echo "install-deps.sh: could not create .venv (pip needs PyPI for python/requirements.txt and tools/requirements-nir.txt)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
