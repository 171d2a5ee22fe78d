#!/usr/bin/env python3
"""Figures of a sweep from the points.csv written by `delayprop-sweep aggregate`.

    plot_sweep.py OUT_DIR/points.csv [--out OUT_DIR/figures] [--metric test_accuracy] [--x COLUMN]

For each metric (default: those of test/valid/train accuracy and presentations_to_100 that
are present) draws mean +- SD over seeds against a numeric sweep column (the hidden size,
say), one line per combination of the other columns (delays on/off, ...), one panel per
group (SHD recurrent, SHD feedforward, ...). Without a numeric column it draws bars.
Accuracies in [0, 1] are shown in percent. Needs matplotlib; without it, says so and exits 0.
"""
import argparse
import csv
import math
import os
import sys

METRICS = ["test_accuracy", "valid_accuracy", "train_accuracy", "presentations_to_100"]


def number(s):
    try:
        x = float(s)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def read_points(path):
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        fields = reader.fieldnames or []
    if "point" not in fields or "n" not in fields:
        sys.exit(f"plot_sweep: {path}: not a points.csv (needs columns 'point' and 'n')")
    axes = fields[fields.index("point") + 1:fields.index("n")]
    return rows, axes, fields


def pick_x(rows, axes, wanted):
    if wanted:
        if wanted not in axes:
            sys.exit(f"plot_sweep: no column '{wanted}' (columns: {', '.join(axes)})")
        return wanted
    numeric = [a for a in axes
               if len({r[a] for r in rows}) > 1 and all(number(r[a]) is not None for r in rows)]
    for a in numeric:
        if "hidden" in a or "size" in a:
            return a
    return numeric[0] if numeric else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("points")
    ap.add_argument("--out", default=None, help="directory for the figures (default: next to points.csv)")
    ap.add_argument("--metric", action="append", help="metric to plot (repeatable)")
    ap.add_argument("--x", default=None, help="column for the x axis (default: a numeric one, hidden size first)")
    args = ap.parse_args()

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_sweep: matplotlib is not installed; figures skipped "
              "(apt-get install python3-matplotlib)")
        return 0

    rows, axes, fields = read_points(args.points)
    rows = [r for r in rows if int(r["n"] or 0) > 0]
    if not rows:
        print("plot_sweep: no finished runs; nothing to plot")
        return 0
    out = args.out or os.path.join(os.path.dirname(os.path.abspath(args.points)), "figures")
    os.makedirs(out, exist_ok=True)
    title = os.path.basename(os.path.dirname(os.path.abspath(args.points)))

    x_col = pick_x(rows, axes, args.x)
    varying = [a for a in axes if a != x_col and len({r[a] for r in rows}) > 1]
    panel_col = "group" if "group" in varying else None
    line_cols = [a for a in varying if a != panel_col]
    panels = list(dict.fromkeys(r[panel_col] for r in rows)) if panel_col else [None]  # file order

    metrics = args.metric or [m for m in METRICS if f"{m}_mean" in fields
                              and any(number(r[f"{m}_mean"]) is not None for r in rows)]
    written = []
    for m in metrics:
        vals = [number(r.get(f"{m}_mean")) for r in rows]
        vals = [v for v in vals if v is not None]
        if not vals:
            continue
        scale = 100.0 if "accuracy" in m and max(vals) <= 1.0 else 1.0
        label = m.replace("_", " ") + (" (%)" if scale == 100.0 else "")
        fig, axs = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.4), squeeze=False, sharey=True)
        for ax, panel in zip(axs[0], panels):
            sub = [r for r in rows if panel_col is None or r[panel_col] == panel]
            lines = {}
            for r in sub:
                key = ", ".join(f"{c} {r[c]}" for c in line_cols)
                lines.setdefault(key, []).append(r)
            for i, (key, rs) in enumerate(lines.items()):
                pts = [(r, number(r.get(f"{m}_mean")), number(r.get(f"{m}_sd")) or 0.0) for r in rs]
                pts = [p for p in pts if p[1] is not None]
                if not pts:
                    continue
                style = "--" if ("off" in key or "false" in key) else "-"
                if x_col:
                    pts.sort(key=lambda p: number(p[0][x_col]))
                    xs = [number(p[0][x_col]) for p in pts]
                    ax.errorbar(xs, [p[1] * scale for p in pts], yerr=[p[2] * scale for p in pts],
                                marker="o", linestyle=style, capsize=3, label=key or None)
                else:
                    xs = [j + i * 0.8 / max(1, len(lines)) for j in range(len(pts))]
                    ax.bar(xs, [p[1] * scale for p in pts], width=0.8 / max(1, len(lines)),
                           yerr=[p[2] * scale for p in pts], capsize=3, label=key or None)
                    ax.set_xticks(range(len(pts)))
                    ax.set_xticklabels([p[0]["point"] for p in pts], rotation=30, ha="right", fontsize=7)
            if x_col:
                ax.set_xlabel(x_col)
                xs_all = sorted({number(r[x_col]) for r in sub})
                if xs_all and xs_all[0] > 0 and xs_all[-1] / xs_all[0] >= 8:
                    ax.set_xscale("log", base=2)
                    ax.set_xticks(xs_all)
                    ax.set_xticklabels([f"{x:g}" for x in xs_all])
            ax.set_title(panel if panel is not None else title, fontsize=10)
            ax.grid(alpha=0.3)
            if any(k for k in lines):
                ax.legend(fontsize=7)
        axs[0][0].set_ylabel(label)
        fig.tight_layout()
        for ext in ("png", "pdf"):
            path = os.path.join(out, f"{m}.{ext}")
            fig.savefig(path, dpi=150)
            written.append(path)
        plt.close(fig)
    print("plot_sweep: wrote " + (", ".join(written) if written else "nothing (no metric to plot)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
