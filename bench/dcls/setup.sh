#!/usr/bin/env bash
# Creates the virtual environment for the DCLS side-by-side benchmark: PyTorch (PyPI's
# default wheel; it pulls the CUDA runtime packages, ~3 GB, but runs on the CPU), the
# `dcls` package (Dilated Convolution with Learnable Spacings) and matplotlib for the plots.
# Usage: bench/dcls/setup.sh [VENV_DIR]   (default: <repo>/.venv-dcls)
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
venv="${1:-$repo/.venv-dcls}"
py="${PYTHON:-/usr/bin/python3}"
if [ ! -x "$venv/bin/python" ]; then
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet torch dcls matplotlib numpy
"$venv/bin/python" -c "import torch, DCLS; print('torch', torch.__version__, 'dcls ok')"
