#!/usr/bin/env python3
"""Trains Yin-Yang (configs/yinyang.toml) from Python and plots the learning curve.

The run is delayprop-train's: the same loop, files and results (OUT/metrics.jsonl,
checkpoint.h5, model.h5, summary.json). Ctrl-C stops at the next batch with a checkpoint;
run again with --resume to continue. Needs matplotlib for the figure (pip install matplotlib).

    python examples/python/train_yinyang.py --out runs/yinyang-py [--epochs 60] [--resume]
"""
import argparse
import json
import pathlib

import delayprop

ROOT = pathlib.Path(__file__).resolve().parents[2]

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--out", default="runs/yinyang-py", type=pathlib.Path)
ap.add_argument("--epochs", type=int, default=60)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--resume", action="store_true")
args = ap.parse_args()

def on_epoch(m):
    print(f"epoch {m['epoch']:3d}  loss {m['train_loss']:.4f}  train {m['train_accuracy']:.3f}  "
          f"valid {m.get('valid_accuracy', float('nan')):.3f}  ({m['epoch_time_s']:.1f} s)", flush=True)


config = delayprop.load_config(ROOT / "configs/yinyang.toml")
try:
    summary = delayprop.train(config, args.out, on_epoch=on_epoch, threads=args.threads,
                              train={"epochs": args.epochs}, resume=args.resume, overwrite=not args.resume)
except KeyboardInterrupt as stop:
    raise SystemExit(f"interrupted: {stop}")
print(f"test accuracy {summary['test_accuracy']:.4f} (best epoch {summary['best_epoch']})")

# The kept (best) parameters evaluated again, as delayprop-eval does.
best = delayprop.read_params(config, args.out / "model.h5", "best")
ev = delayprop.evaluate(config, best, "test")
print(f"re-evaluated: {ev['correct']}/{ev['n']} correct\nconfusion matrix:\n{ev['confusion']}")

try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed: no figure (the metrics are in metrics.jsonl)")
    raise SystemExit
# The whole run from metrics.jsonl (a resumed run's callbacks saw only the epochs after resuming).
lines = (args.out / "metrics.jsonl").read_text().splitlines()
history = [m for m in map(json.loads, lines) if "epoch" in m]
epochs = [m["epoch"] for m in history]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(epochs, [m["train_loss"] for m in history], label="train")
ax1.plot(epochs, [m.get("valid_loss") for m in history], label="validation")
ax1.set(xlabel="epoch", ylabel="loss", title="Loss")
for key, label in (("train_accuracy", "train"), ("valid_accuracy", "validation"), ("test_accuracy", "test")):
    ax2.plot(epochs, [m.get(key) for m in history], label=label)
ax2.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
for ax in (ax1, ax2):
    ax.legend()
    ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(args.out / "learning_curve.png", dpi=120)
print(f"wrote {args.out / 'learning_curve.png'}")
