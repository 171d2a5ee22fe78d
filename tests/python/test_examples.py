"""The examples of examples/python run (Yin-Yang for one epoch)."""
import subprocess
import sys

from conftest import SOURCE


def run(*args, cwd):
    r = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout


def test_custom_loss(tmp_path):
    assert run(SOURCE / "examples/python/custom_loss.py", cwd=tmp_path).rstrip().endswith("ok")


def test_train_yinyang(tmp_path):
    out = run(SOURCE / "examples/python/train_yinyang.py", "--epochs", 1, "--out", tmp_path / "run", cwd=tmp_path)
    assert "epoch   1" in out and "test accuracy" in out and (tmp_path / "run/model.h5").exists()
