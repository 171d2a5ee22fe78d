#!/usr/bin/env python3
"""Figures of one training run from its DIR/metrics.jsonl (docs/FORMATS.md "metrics.jsonl").

    plot_run.py DIR [--out DIR/figures] [--epochs 1,10,last]

Writes learning_curves.png (loss; accuracies; hidden spikes per neuron; learning rates, one
panel each, against the epoch) and delays.png (per connection with learned delays, the
delay histogram at each chosen epoch; default: the first, the middle and the last). The
header record (the first line, "record": "header") and any line without "epoch" are
skipped; on a resumed run the last line of each epoch counts. Needs matplotlib (use
/usr/bin/python3); without it, says so and exits 0.
"""
import argparse
import json
import os
import sys


def read_metrics(path):
    epochs = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                m = json.loads(line)
            except json.JSONDecodeError:
                print(f"plot_run: {path}:{n}: not JSON, skipped", file=sys.stderr)
                continue
            if m.get("record") == "header" or "epoch" not in m:
                continue
            epochs[int(m["epoch"])] = m
    return [epochs[e] for e in sorted(epochs)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run")
    ap.add_argument("--out")
    ap.add_argument("--epochs", help="comma-separated epochs for the delay histograms (1-based; 'last')")
    a = ap.parse_args()
    path = os.path.join(a.run, "metrics.jsonl")
    if not os.path.exists(path):
        sys.exit(f"plot_run: {path}: no such file (not a training run directory?)")
    rows = read_metrics(path)
    if not rows:
        sys.exit(f"plot_run: {path}: no epoch records")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_run: matplotlib is not available (try /usr/bin/python3); no figures written")
        return 0
    out = a.out or os.path.join(a.run, "figures")
    os.makedirs(out, exist_ok=True)
    ep = [m["epoch"] for m in rows]

    def series(key):
        xs = [m["epoch"] for m in rows if key in m]
        return xs, [m[key] for m in rows if key in m]

    fig, ax = plt.subplots(2, 2, figsize=(10, 7))
    for key in ("train_loss", "valid_loss", "test_loss"):
        x, y = series(key)
        if x:
            ax[0, 0].plot(x, y, marker=".", label=key)
    ax[0, 0].set_title("loss")
    for key in ("train_accuracy", "train_eval_accuracy", "valid_accuracy", "test_accuracy"):
        x, y = series(key)
        if x:
            ax[0, 1].plot(x, [100 * v for v in y], marker=".", label=key)
    ax[0, 1].set_title("accuracy (%)")
    x, y = series("hidden_spikes_per_neuron")
    ax[1, 0].plot(x, y, marker=".")
    ax[1, 0].set_title("hidden spikes per neuron and trial")
    for key in ("lr_weights", "lr_delays"):
        x, y = series(key)
        if x:
            ax[1, 1].plot(x, y, marker=".", label=key)
    ax[1, 1].set_yscale("log")
    ax[1, 1].set_title("learning rates")
    for a_ in ax.flat:
        a_.set_xlabel("epoch")
        if a_.get_legend_handles_labels()[0]:
            a_.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "learning_curves.png"), dpi=100)
    plt.close(fig)
    written = ["learning_curves.png"]

    with_hist = [m for m in rows if m.get("delay_histograms")]
    if with_hist:
        by_epoch = {m["epoch"]: m for m in with_hist}
        if a.epochs:
            chosen = []
            for tok in a.epochs.split(","):
                e = with_hist[-1]["epoch"] if tok.strip() == "last" else int(tok)
                if e not in by_epoch:
                    sys.exit(f"plot_run: epoch {e} has no delay histograms in {path}")
                chosen.append(e)
        else:
            es = [m["epoch"] for m in with_hist]
            chosen = sorted({es[0], es[len(es) // 2], es[-1]})
        conns = list(with_hist[-1]["delay_histograms"].keys())
        fig, ax = plt.subplots(1, len(conns), figsize=(5 * len(conns), 3.5), squeeze=False)
        for i, c in enumerate(conns):
            for e in chosen:
                h = by_epoch[e]["delay_histograms"].get(c)
                if not h:
                    continue
                n = len(h["counts"])
                w = h["max_delay"] / n
                ax[0, i].step([w * (k + 0.5) for k in range(n)], h["counts"], where="mid", label=f"epoch {e}")
            ax[0, i].set_title(f"{c}: delays")
            ax[0, i].set_xlabel("delay (ms)")
            ax[0, i].set_ylabel("synapses")
            ax[0, i].legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out, "delays.png"), dpi=100)
        plt.close(fig)
        written.append("delays.png")
    print(f"plot_run: wrote {', '.join(written)} to {out} ({len(ep)} epochs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
