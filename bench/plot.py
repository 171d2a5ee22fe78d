#!/usr/bin/env python3
"""Plots of the side-by-side study: samples/s and peak memory vs max delay, ours vs DCLS.

Needs matplotlib (installed in the DCLS venv by bench/dcls/setup.sh):
    .venv-dcls/bin/python bench/plot.py --ours bench/results/ours.jsonl --dcls bench/results/dcls.jsonl --out docs/img
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def load(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def series(rows, tag, hidden, key):
    pts = sorted((int(r["max_delay"]), r[key]) for r in rows
                 if r.get("tag") == tag and int(r.get("hidden", 0)) == hidden and not r.get("failed") and key in r)
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--ours", default="bench/results/ours.jsonl")
    ap.add_argument("--dcls", default="bench/results/dcls.jsonl")
    ap.add_argument("--out", default="docs/img")
    a = ap.parse_args()
    ours, dcls = load(a.ours), load(a.dcls)
    os.makedirs(a.out, exist_ok=True)

    for key, ylabel, fname in (("samples_per_cpu_s", "samples per CPU-second (1 thread)", "bench_speed.png"),
                               ("peak_rss_mib", "peak RSS (MiB)", "bench_memory.png")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for rows, label, marker in ((ours, "delayprop (EventProp, CPU), batch 2", "o"), (dcls, "DCLS (PyTorch, CPU), batch 2", "s")):
            x, y = series(rows, "dcls-side", 256, key)
            if x:
                ax.plot(x, y, marker=marker, label=label)
        sx, sy = series(ours, "scale-delay", 256, key)
        if sx:
            ax.plot(sx, sy, marker=".", linestyle=":", label="delayprop, 700-256rec-20, batch 8")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("max delay (steps of 1 ms)")
        ax.set_ylabel(ylabel)
        ax.set_title("SHD-shaped, 700-256-256-20, 1000 steps")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="center right", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out, fname), dpi=110)
        plt.close(fig)
        print("wrote", os.path.join(a.out, fname))


if __name__ == "__main__":
    main()
