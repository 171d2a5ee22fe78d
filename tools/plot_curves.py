#!/usr/bin/env python3
"""Validation curves and per-seed test accuracies of a sweep, from its run directories.

    plot_curves.py OUT_DIR --out FIGURE.png [--title TEXT]

Left: validation accuracy per epoch, mean over the seeds of each point (thin lines: single
seeds, a dot at the epoch whose model is kept; the mean is drawn while every seed of the
point is still running). Right: the test accuracy of each run (the model of its best validation epoch) and the mean +- SD per point,
from OUT_DIR/results.csv (`delayprop-sweep aggregate`). Needs matplotlib.
"""
import argparse
import csv
import glob
import json
import os
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir")
    ap.add_argument("--out", required=True)
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(csv.DictReader(open(os.path.join(a.out_dir, "results.csv"))))
    rows = [r for r in rows if r["status"] == "done"]
    points = list(dict.fromkeys(r["point"] for r in rows))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [2, 1]})
    for i, p in enumerate(points):
        color = f"C{i}"
        curves = []
        for r in rows:
            if r["point"] != p:
                continue
            path = os.path.join(a.out_dir, r["run"], "metrics.jsonl")
            lines = [json.loads(l) for l in open(path) if l.strip()]
            v = [100 * m["valid_accuracy"] for m in lines if "epoch" in m]  # epoch lines only
            curves.append(v)
            ax1.plot(range(1, len(v) + 1), v, color=color, alpha=0.25, lw=0.7)
            best = int(float(r["best_epoch"]))
            ax1.plot([best], [v[best - 1]], "o", color=color, ms=3)  # the selected epoch
        n = min(len(c) for c in curves)
        mean = [statistics.mean(c[e] for c in curves) for e in range(n)]
        ax1.plot(range(1, n + 1), mean, color=color, lw=1.8, label=f"{p} (n={len(curves)})")
        acc = [100 * float(r["test_accuracy"]) for r in rows if r["point"] == p]
        ax2.scatter([i] * len(acc), acc, color=color, alpha=0.6, s=18)
        sd = statistics.stdev(acc) if len(acc) > 1 else 0.0
        ax2.errorbar([i + 0.15], [statistics.mean(acc)], yerr=[sd], color=color, marker="o", capsize=4)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("validation accuracy (%)")
    ax1.set_ylim(90, 100)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=7, loc="lower right")
    ax2.set_xlim(-0.5, len(points) - 0.5)
    ax2.set_xticks(range(len(points)))
    ax2.set_xticklabels(points, rotation=20, ha="right", fontsize=7)
    ax2.set_ylabel("test accuracy (%), best validation epoch")
    ax2.axhline(98.0, color="grey", lw=0.8, ls=":")
    ax2.grid(alpha=0.3)
    if a.title:
        fig.suptitle(a.title, fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=130)
    print("plot_curves: wrote", a.out)


if __name__ == "__main__":
    main()
