"""Shared fixtures of the Python tests: the built drivers and a small event data set
(tests/drivers/make_eval_data.py, written with the tools' Python, which has h5py)."""
import os
import pathlib
import subprocess

import numpy as np
import pytest

SOURCE = pathlib.Path(os.environ["DELAYPROP_SOURCE_DIR"])
BUILD = pathlib.Path(os.environ["DELAYPROP_BINARY_DIR"])
TOOLS_PYTHON = os.environ.get("DELAYPROP_TOOLS_PYTHON", "/usr/bin/python3")
CONFIG = SOURCE / "tests/drivers/eval_small.toml"


def run_driver(name, *args):
    r = subprocess.run([str(BUILD / f"delayprop-{name}"), *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, f"delayprop-{name} failed:\n{r.stdout}\n{r.stderr}"
    return r


def same_bits(a, b):
    """Parameter dicts equal bit for bit."""
    assert a.keys() == b.keys()
    for name in a:
        for field in ("weights", "delays"):
            x, y = a[name][field], b[name][field]
            assert x.shape == y.shape and x.dtype == y.dtype == np.float64
            assert x.tobytes() == y.tobytes(), f"{name}/{field} differs: max |diff| {np.abs(x - y).max()}"


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    subprocess.run([TOOLS_PYTHON, str(SOURCE / "tests/drivers/make_eval_data.py"), str(d)], check=True)
    return d


@pytest.fixture(scope="session")
def events(data_dir):
    """test.h5's samples as numpy (times in ms, units) and labels."""
    npz = data_dir / "test.npz"
    code = ("import sys, h5py, numpy as np\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "t, u = f['spikes/times'], f['spikes/units']\n"
            "arrs = {f't{i}': t[i] for i in range(len(t))}\n"
            "arrs.update({f'u{i}': u[i] for i in range(len(u))})\n"
            "np.savez(sys.argv[2], labels=f['labels'][:], **arrs)\n")
    subprocess.run([TOOLS_PYTHON, "-c", code, str(data_dir / "test.h5"), str(npz)], check=True)
    z = np.load(npz)
    n = len(z["labels"])
    return [(z[f"t{i}"], z[f"u{i}"]) for i in range(n)], z["labels"]


@pytest.fixture(scope="session")
def config(data_dir):
    import delayprop
    return delayprop.load_config(CONFIG, [f'data.path="{data_dir}"'])
