#!/usr/bin/env bash
# `pip install .` in a fresh virtual environment, offline: the build requirements from the
# wheels scripts/install-deps.sh keeps, no build isolation; then the module is imported and
# run from another directory. Usage: pip_install.sh SOURCE_DIR WORK_DIR WHEELS_DIR
set -euo pipefail
src="$1"; work="$2"; wheels="$3"
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --no-index --find-links "$wheels" scikit-build-core pybind11 numpy
start=$(date +%s)
"${pip[@]}" install --no-index --no-build-isolation --config-settings=build-dir="$work/build" "$src"
echo "pip install: $(( $(date +%s) - start )) s"
cd "$work"
"$work/venv/bin/python" - "$src/configs/yinyang.toml" <<'PY'
import sys
import numpy as np
import delayprop
assert delayprop.__file__.startswith(sys.prefix), delayprop.__file__
cfg = delayprop.load_config(sys.argv[1])
params = cfg.init_params(1)
batch = delayprop.make_batch(cfg, [(np.array([1.5, 10.0, 12.0, 19.0]), np.array([0, 1, 2, 3]))], [0])
r = delayprop.Engine(cfg).gradients(params, batch)
assert np.isfinite(r["loss"]) and r["grad"]["in_hidden"]["weights"].shape == (4, 30)
print("ok: delayprop imported from", delayprop.__file__, "loss", r["loss"])
PY
