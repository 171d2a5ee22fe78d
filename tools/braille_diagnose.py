#!/usr/bin/python3
"""Diagnostics of Braille runs (docs/RESULTS.md, Braille section).

  tools/braille_diagnose.py snapshot 'runs/NAME/*_s*'   # keep each epoch's parameters, until killed
  tools/braille_diagnose.py encoding [--png FILE] [--json FILE] [--thresholds 1 2 5]
  tools/braille_diagnose.py figures --out docs/img [--data data/braille_th1] RUN_DIR...
  tools/braille_diagnose.py gradients RUN_DIR [--data data/braille_th1] [--json FILE]

`snapshot` polls RUN_DIR/checkpoint.h5 (written after every epoch, docs/FORMATS.md) and stores
its /params as RUN_DIR/snapshots/epoch_NNN.npz (float32 weights and delays per connection), so
that delay distributions can be followed over epochs without a training option for it.
`encoding` re-encodes the raw recordings with an extremum-to-extremum sigma-delta encoder
written from the benchmark's description (Mueller-Cleve et al. 2022) and compares it with
tools/braille_convert.py, and counts the events that 1 ms binning folds together.
`figures` draws learning curves, hidden activity and delay distributions of the runs.
`gradients` measures the batch-to-batch noise of the weight and delay gradients at a run's
last snapshot and how many lie below Adam's eps.

Run with /usr/bin/python3 (needs numpy, h5py, matplotlib).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")


def read_params(path):
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        epoch = int(f["epoch"][()])
        for name in f["params"]:
            for what in ("weights", "delays"):
                out[name + "/" + what] = np.asarray(f["params"][name][what][()], dtype=np.float32)
    return epoch, out


def snapshot(patterns, poll_s):
    """Until killed; a pattern may be a glob (runs/NAME/*_s*), rescanned at every poll."""
    seen = {}
    while True:
        run_dirs = sorted(set(d for p in patterns for d in glob.glob(p) if os.path.isdir(d)))
        for d in run_dirs:
            ck = os.path.join(d, "checkpoint.h5")
            if not os.path.exists(ck):
                continue
            try:
                mtime = os.stat(ck).st_mtime
                if seen.get(d) == mtime:
                    continue
                epoch, params = read_params(ck)
            except Exception:  # mid-rename or a partial file: try again next poll
                continue
            seen[d] = mtime
            os.makedirs(os.path.join(d, "snapshots"), exist_ok=True)
            out = os.path.join(d, "snapshots", "epoch_%03d.npz" % epoch)
            if not os.path.exists(out):
                np.savez_compressed(out, **{k.replace("/", "__"): v for k, v in params.items()})
        time.sleep(poll_s)



# ---------------------------------------------------------------- encoding check

def encode_extrema(x, threshold, rate=40.0):
    """Sigma-delta encoding as the benchmark describes it, written independently of
    tools/braille_convert.py: split the signal at its local extrema (plateaus kept), and
    on each monotone stretch from one extremum to the next emit an event at every multiple of
    the threshold passed since the last event's level, timed by linear interpolation of the
    samples of that stretch."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    # extrema: ends, and every sample where the direction of change flips (plateaus are skipped)
    turns = [0]
    direction = 0
    for i in range(1, n):
        step = np.sign(x[i] - x[i - 1])
        if step == 0:
            continue
        if direction != 0 and step != direction:
            turns.append(i - 1)
        direction = step
    if turns[-1] != n - 1:
        turns.append(n - 1)
    level = x[0]
    on, off = [], []
    for a, b in zip(turns[:-1], turns[1:]):
        seg_t = np.arange(a, b + 1, dtype=np.float64)
        seg_x = x[a:b + 1]
        if x[b] >= level + threshold:
            k = np.floor((x[b] - level) / threshold + 1e-9)
            levels = level + threshold * np.arange(1, k + 1)
            order = np.argsort(seg_x, kind="stable")
            # first time each level is reached on a rising stretch
            on += [seg_t[np.argmax(seg_x >= v)] - 1 + (v - seg_x[np.argmax(seg_x >= v) - 1]) /
                   (seg_x[np.argmax(seg_x >= v)] - seg_x[np.argmax(seg_x >= v) - 1])
                   if np.argmax(seg_x >= v) > 0 else seg_t[0] for v in levels]
            level = levels[-1]
        elif x[b] <= level - threshold:
            k = np.floor((level - x[b]) / threshold + 1e-9)
            levels = level - threshold * np.arange(1, k + 1)
            off += [seg_t[np.argmax(seg_x <= v)] - 1 + (seg_x[np.argmax(seg_x <= v) - 1] - v) /
                    (seg_x[np.argmax(seg_x <= v) - 1] - seg_x[np.argmax(seg_x <= v)])
                    if np.argmax(seg_x <= v) > 0 else seg_t[0] for v in levels]
            level = levels[-1]
    return np.asarray(on) / rate, np.asarray(off) / rate


def encoding_check(args):
    import gzip
    import pickle

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import braille_convert as bc

    path = args.input or bc.default_input()
    records = pickle.load(gzip.open(path, "rb"))
    X = [np.abs(255.0 - np.asarray(r["taxel_data"], dtype=np.float64)) for r in records]
    res = {"recordings": len(X), "samples_per_recording": [int(min(len(x) for x in X)), int(max(len(x) for x in X))]}
    raw = np.concatenate(X)
    res["taxel_sd"] = [round(float(v), 2) for v in raw.std(0)]
    res["taxels_ever_changing"] = [int(k) for k in np.flatnonzero(raw.std(0) > 0)]
    res["rows_equal_to_previous"] = float(np.mean([np.mean(np.all(np.diff(x, axis=0) == 0, axis=1)) for x in X]))
    for th in args.thresholds:
        n_ours = n_ref = 0
        worst = 0.0
        per_channel = np.zeros(bc.N_CHANNELS)
        merged = 0
        for x in X:
            for k in range(bc.N_TAXELS):
                on, off = bc.encode_taxel(x[:, k], th)
                ron, roff = encode_extrema(x[:, k], th)
                n_ours += len(on) + len(off)
                n_ref += len(ron) + len(roff)
                if len(on) == len(ron) and len(off) == len(roff):
                    for u, v in ((on, ron), (off, roff)):
                        if len(u):
                            worst = max(worst, float(np.max(np.abs(np.asarray(u) - v))))
                else:
                    worst = float("inf")
                per_channel[2 * k] += len(on)
                per_channel[2 * k + 1] += len(off)
                for ev in (on, off):
                    steps = np.floor(np.asarray(ev) * 1000.0 + 1e-9).astype(np.int64)
                    merged += len(steps) - len(np.unique(steps))
        res["threshold_%g" % th] = {
            "events_per_recording": n_ours / len(X),
            "reference_events_per_recording": n_ref / len(X),
            "max_time_difference_s": worst,
            "events_per_channel_per_recording": [round(float(v), 2) for v in per_channel / len(X)],
            "fraction_folded_by_1ms_bins": merged / max(n_ours, 1),
        }
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    if args.png:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(1, 2, figsize=(11, 3.4))
        r0 = next(r for r in records if r["letter"] == args.letter)
        x0 = np.abs(255.0 - np.asarray(r0["taxel_data"], dtype=np.float64))
        t0 = np.arange(len(x0)) / bc.RATE_HZ
        for k in range(bc.N_TAXELS):
            if np.std(x0[:, k]) > 0:  # the other taxels are flat in this recording
                ax[0].plot(t0, x0[:, k] - x0[0, k], lw=1, label="taxel %d" % k)
        ax[0].set_xlabel("time (s)")
        ax[0].set_ylabel("|255 - raw| - first value")
        ax[0].set_title("a recording of letter %s: taxel signals" % r0["letter"], fontsize=9)
        ax[0].legend(fontsize=7)
        w = 0.8 / len(args.thresholds)
        for i, th in enumerate(args.thresholds):
            v = res["threshold_%g" % th]["events_per_channel_per_recording"]
            ax[1].bar(np.arange(bc.N_CHANNELS) + i * w, v, width=w, label="threshold %g" % th)
        ax[1].set_xlabel("channel (2 x taxel + OFF)")
        ax[1].set_ylabel("events per recording")
        ax[1].set_yscale("symlog", linthresh=1)
        ax[1].set_title("events per channel (mean over 1350 recordings)", fontsize=9)
        ax[1].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.png, dpi=110)
        print("wrote", args.png)
    return 0


# ---------------------------------------------------------------- figures

def read_metrics(run):
    rows = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def read_snapshots(run):
    """epoch -> {connection: delays}; epoch 0 from the config's initial delays is not known
    here, so the first snapshot is the first finished epoch."""
    out = {}
    for path in sorted(glob.glob(os.path.join(run, "snapshots", "epoch_*.npz"))):
        z = np.load(path)
        out[int(os.path.basename(path)[6:9])] = {k[:-len("__delays")]: z[k] for k in z.files
                                                  if k.endswith("__delays")}
    return out


def max_delay_of(run, conn):
    """max_delay of a connection from the run's resolved config.toml."""
    try:
        import tomllib
    except ImportError:  # Python < 3.11
        tomllib = None
    path = os.path.join(run, "config.toml")
    if tomllib is not None:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
        for c in cfg["network"]["connection"]:
            if c["name"] == conn:
                return float(c["max_delay"])
    # minimal fallback: the line after name = "conn"
    lines = open(path).read().splitlines()
    for i, l in enumerate(lines):
        if l.replace(" ", "") == 'name="%s"' % conn:
            for l2 in lines[i:i + 12]:
                if l2.strip().startswith("max_delay"):
                    return float(l2.split("=")[1])
    return float("nan")


def label_of(run):
    return os.path.basename(os.path.normpath(run))


def delay_init_of(run, conn):
    """The connection's delay_init table from the run's config.toml (None if not readable)."""
    try:
        import tomllib
        with open(os.path.join(run, "config.toml"), "rb") as f:
            cfg = tomllib.load(f)
        for c in cfg["network"]["connection"]:
            if c["name"] == conn:
                return c.get("delay_init", {"dist": "constant", "value": 0.0})
    except Exception:
        pass
    return None


def delay_stats(run):
    """Per connection and epoch, over the synapses of *used* presynaptic neurons (a row whose
    delays ever leave their initial value; input channels without events and silent hidden
    neurons get no delay gradient): fraction at 0, at max, mean, 99th percentile, max, mean
    step |d_e - d_e-1|, net displacement from the first snapshot and path length."""
    snaps = read_snapshots(run)
    stats = {}
    epochs = sorted(snaps)
    if not epochs:
        return stats
    for conn in snaps[epochs[0]]:
        if conn.endswith("_out"):
            continue
        dmax = max_delay_of(run, conn)
        init = delay_init_of(run, conn) or {"dist": "constant", "value": 0.0}
        stack = np.stack([snaps[e][conn] for e in epochs])
        if init.get("dist") == "constant":
            used = np.any(np.abs(stack - float(init.get("value", 0.0))) > 0, axis=(0, 2))
        else:
            used = np.any(np.abs(stack - stack[0]) > 0, axis=(0, 2))
        rows = []
        first = stack[0][used]
        prev = None
        path = np.zeros_like(first)
        for k, e in enumerate(epochs):
            d = stack[k][used]
            step = np.abs(d - prev) if prev is not None else np.zeros_like(d)
            path += step
            rows.append({"epoch": e, "at0": float(np.mean(d <= 1e-9)), "atmax": float(np.mean(d >= dmax - 1e-6)),
                         "mean": float(d.mean()), "p99": float(np.percentile(d, 99)), "max": float(d.max()),
                         "step": float(step.mean()), "net": float(np.mean(np.abs(d - first))),
                         "path": float(path.mean())})
            prev = d
        stats[conn] = {"max_delay": dmax, "rows": rows, "last": stack[-1][used], "last_epoch": epochs[-1],
                       "used_pre": int(used.sum()), "n_pre": int(len(used))}
    return stats


def activity(run, data, grad_bin, split="valid", snapshot=None):
    """Spikes per trial of every hidden neuron on a data split with the parameters of the run's
    last snapshot (delayprop-grad --loss-only). Returns {population: counts per neuron and trial}."""
    import subprocess
    import tempfile

    import h5py

    snaps = [snapshot] if snapshot else sorted(glob.glob(os.path.join(run, "snapshots", "epoch_*.npz")))
    if not snaps:
        return {}
    # next to the snapshot, computed once (not matched by epoch_*.npz)
    cache = os.path.join(os.path.dirname(snaps[-1]), "activity_%s_%s" % (split, os.path.basename(snaps[-1])))
    if os.path.exists(cache):
        c = np.load(cache)
        return {k: c[k] for k in c.files}
    z = np.load(snaps[-1])
    with tempfile.TemporaryDirectory() as tmp:
        pfile, ofile = os.path.join(tmp, "params.h5"), os.path.join(tmp, "out.h5")
        with h5py.File(pfile, "w") as f:
            for k in z.files:
                conn, what = k.split("__")
                f[conn + "/" + what] = z[k].astype(np.float64)
        subprocess.run(["nice", "-n", "19", grad_bin, "--config", os.path.join(run, "config.toml"), "--input",
                        os.path.join(data, split + ".h5"), "--params", pfile, "--out", ofile, "--loss-only",
                        "--threads", "1"], check=True, capture_output=True)
        with h5py.File(ofile, "r") as f:
            n = len(f["prediction"][()])
            out = {pop: f["spike_counts"][pop][()] / n for pop in f["spike_counts"]}
    np.savez(cache, **out)
    return out


def layer_trajectory(run, data, grad_bin, every):
    """Every `every` epochs: spikes per neuron and trial of each hidden population on the
    validation set, fraction silent, and the mean input weight from channels with events."""
    snaps = sorted(glob.glob(os.path.join(run, "snapshots", "epoch_*.npz")))
    picked = [p for p in snaps if int(os.path.basename(p)[6:9]) % every == 0 or p == snaps[0] or p == snaps[-1]]
    rows = []
    for p in picked:
        act = activity(run, data, grad_bin, snapshot=p)
        z = np.load(p)
        w = z[[k for k in z.files if k.startswith("in_") and k.endswith("__weights")][0]]
        row = {"epoch": int(os.path.basename(p)[6:9]), "input_weight_mean": float(w[ACTIVE_CHANNELS].mean())}
        for pop, c in act.items():
            row[pop] = {"mean": float(c.mean()), "median": float(np.median(c)), "silent": float(np.mean(c == 0))}
        rows.append(row)
    return rows


# channels (2 x taxel + OFF) with events at threshold 1 (docs/results/braille_encoding.json)
ACTIVE_CHANNELS = [2, 3, 4, 5, 12, 13, 20, 21]


def figures(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(args.out, exist_ok=True)
    runs = [r for r in args.runs if os.path.exists(os.path.join(r, "metrics.jsonl"))]
    # learning curves and hidden activity
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for r in runs:
        m = read_metrics(r)
        ep = [x["epoch"] for x in m]
        line, = ax[0].plot(ep, [100 * x["train_accuracy"] for x in m], lw=1.2, label=label_of(r))
        ax[1].plot(ep, [100 * x.get("valid_accuracy", np.nan) for x in m], lw=1.2, color=line.get_color())
        ax[2].plot(ep, [x["hidden_spikes_per_neuron"] for x in m], lw=1.2, color=line.get_color())
    ax[0].set_title("training accuracy (running, %)", fontsize=9)
    ax[1].set_title("validation accuracy (%)", fontsize=9)
    ax[2].set_title("hidden spikes per neuron and trial", fontsize=9)
    for a in ax:
        a.set_xlabel("epoch")
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, args.prefix + "_curves.png"), dpi=110)
    print("wrote", os.path.join(args.out, args.prefix + "_curves.png"))

    # hidden activity per neuron (validation set, last snapshot)
    if args.data:
        acts = {r: activity(r, args.data, args.grad) for r in runs}
        acts = {r: a for r, a in acts.items() if a}
        if acts:
            pops = sorted({p for a in acts.values() for p in a})
            fig, ax = plt.subplots(1, len(pops), figsize=(5 * len(pops), 3.4), squeeze=False)
            for r, a in acts.items():
                for i, pop in enumerate(pops):
                    c = a[pop]
                    ax[0][i].hist(c, bins=np.linspace(0, 40, 41), histtype="step", lw=1.2,
                                  label="%s: median %.1f, silent %.0f%%" % (label_of(r), np.median(c), 100 * np.mean(c == 0)))
                    print("activity %s %s: mean %.2f median %.2f silent %.3f" % (label_of(r), pop, c.mean(), np.median(c), np.mean(c == 0)))
            for i, pop in enumerate(pops):
                ax[0][i].set_title("%s: spikes per neuron and trial (validation set)" % pop, fontsize=9)
                ax[0][i].set_xlabel("spikes per trial")
                ax[0][i].set_ylabel("neurons")
                ax[0][i].legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(os.path.join(args.out, args.prefix + "_activity.png"), dpi=110)
            print("wrote", os.path.join(args.out, args.prefix + "_activity.png"))

    # hidden activity and input weights over training
    if args.data and args.every > 0:
        traj = {r: layer_trajectory(r, args.data, args.grad, args.every) for r in runs}
        traj = {r: t for r, t in traj.items() if t}
        if traj:
            pops = sorted({k for t in traj.values() for row in t for k in row if isinstance(row[k], dict)})
            fig, ax = plt.subplots(1, len(pops) + 1, figsize=(4.6 * (len(pops) + 1), 3.4))
            for r, t in traj.items():
                ep = [row["epoch"] for row in t]
                line, = ax[0].plot(ep, [row["input_weight_mean"] for row in t], marker="o", ms=3, lw=1.2, label=label_of(r))
                for i, pop in enumerate(pops):
                    ax[i + 1].plot(ep, [row[pop]["mean"] for row in t], marker="o", ms=3, lw=1.2, color=line.get_color())
                    ax[i + 1].plot(ep, [row[pop]["median"] for row in t], ls="--", lw=1.0, color=line.get_color())
            ax[0].set_title("mean input weight (channels with events)", fontsize=9)
            for i, pop in enumerate(pops):
                ax[i + 1].set_title("%s: spikes per neuron and trial, mean (solid), median (dashed)" % pop, fontsize=8)
            for a in ax:
                a.set_xlabel("epoch")
                a.grid(alpha=0.3)
            ax[0].axhline(0, color="k", lw=0.6)
            ax[0].legend(fontsize=7)
            fig.tight_layout()
            fig.savefig(os.path.join(args.out, args.prefix + "_layers.png"), dpi=110)
            print("wrote", os.path.join(args.out, args.prefix + "_layers.png"))
            print(json.dumps({label_of(r): t for r, t in traj.items()}))

    # delays over epochs
    allstats = {r: delay_stats(r) for r in runs}
    allstats = {r: s for r, s in allstats.items() if s}
    if allstats:
        conns = sorted({c for s in allstats.values() for c in s})
        fig, ax = plt.subplots(len(conns), 4, figsize=(15, 3.2 * len(conns)), squeeze=False)
        summary = {}
        for r, st in allstats.items():
            for i, c in enumerate(conns):
                if c not in st:
                    continue
                rows = st[c]["rows"]
                ep = [x["epoch"] for x in rows]
                line, = ax[i][0].plot(ep, [100 * x["at0"] for x in rows], lw=1.2, label=label_of(r))
                col = line.get_color()
                ax[i][1].plot(ep, [x["mean"] for x in rows], lw=1.2, color=col)
                ax[i][1].plot(ep, [x["p99"] for x in rows], lw=1.0, ls="--", color=col)
                ax[i][2].plot(ep, [x["path"] for x in rows], lw=1.2, color=col)
                ax[i][2].plot(ep, [x["net"] for x in rows], lw=1.0, ls="--", color=col)
                d = st[c]["last"].ravel()
                ax[i][3].hist(d, bins=np.linspace(0, max(1e-3, np.percentile(d, 99.9)), 60), histtype="step",
                              color=col, log=True)
                last = rows[-1]
                summary.setdefault(label_of(r), {})[c] = dict({k: round(v, 4) for k, v in last.items()},
                                                              used_pre="%d/%d" % (st[c]["used_pre"], st[c]["n_pre"]))
            ax[i][0].set_ylabel(c, fontsize=10, fontweight="bold")
        ax[0][0].set_title("delays at 0 (%, synapses of used presynaptic neurons)", fontsize=9)
        ax[0][1].set_title("delay mean (solid), 99th percentile (dashed), ms", fontsize=9)
        ax[0][2].set_title("mean path length (solid) vs net move (dashed), ms", fontsize=9)
        ax[0][3].set_title("delays at the last snapshot (ms, log count)", fontsize=9)
        for row in ax:
            for a in row[:3]:
                a.set_xlabel("epoch")
                a.grid(alpha=0.3)
        ax[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, args.prefix + "_delays.png"), dpi=110)
        print("wrote", os.path.join(args.out, args.prefix + "_delays.png"))
        print(json.dumps(summary, indent=1))
    return 0

# ---------------------------------------------------------------- gradient noise

def gradient_noise(args):
    """Gradients of NB training batches (random, seed 0) at a run's last snapshot, from
    delayprop-grad: per synapse, |mean| / standard error over the batches (signal to noise; a
    synapse with a gradient in 1 batch of n has exactly 1), the fraction of batches with a gradient
    and the rms gradient against Adam's eps (1e-8: below it, Adam's step is lr * g / eps, not lr)."""
    import subprocess
    import tempfile

    import h5py

    snaps = sorted(glob.glob(os.path.join(args.run, "snapshots", "epoch_*.npz")))
    z = np.load(snaps[-1])
    res = {"run": label_of(args.run), "snapshot": os.path.basename(snaps[-1]), "batches": args.batches,
           "batch_size": args.batch_size}
    with tempfile.TemporaryDirectory() as tmp, h5py.File(os.path.join(args.data, "train.h5"), "r") as src:
        pfile = os.path.join(tmp, "params.h5")
        with h5py.File(pfile, "w") as f:
            for k in z.files:
                conn, what = k.split("__")
                f[conn + "/" + what] = z[k].astype(np.float64)
        idx = np.random.default_rng(0).permutation(len(src["labels"]))
        grads = {}
        for b in range(args.batches):
            ii = np.sort(idx[b * args.batch_size:(b + 1) * args.batch_size])
            bfile, ofile = os.path.join(tmp, "batch.h5"), os.path.join(tmp, "grad.h5")
            with h5py.File(bfile, "w") as f:
                t = f.create_dataset("spikes/times", (len(ii),), dtype=h5py.vlen_dtype(np.float64))
                u = f.create_dataset("spikes/units", (len(ii),), dtype=h5py.vlen_dtype(np.uint32))
                for j, i in enumerate(ii):
                    t[j] = src["spikes/times"][i]
                    u[j] = src["spikes/units"][i]
                f["labels"] = src["labels"][ii]
                f.attrs["time_unit"] = np.bytes_("s")
            subprocess.run(["nice", "-n", "19", args.grad, "--config", os.path.join(args.run, "config.toml"),
                            "--input", bfile, "--params", pfile, "--out", ofile, "--threads", "1"],
                           check=True, capture_output=True)
            with h5py.File(ofile, "r") as f:
                for conn in f["grad"]:
                    if conn.endswith("_out"):
                        continue
                    for what in f["grad"][conn]:
                        grads.setdefault(conn + "/" + what, []).append(f["grad"][conn][what][()])
    for key, gs in sorted(grads.items()):
        g = np.stack(gs)
        act = np.any(g != 0, axis=0)
        if not act.any():
            continue
        m, sd = g.mean(0)[act], g.std(0, ddof=1)[act]
        snr = np.abs(m) / (sd / np.sqrt(len(gs)) + 1e-300)
        rms = np.sqrt((g ** 2).mean(0))[act]
        nz = np.mean(g != 0, axis=0)[act]
        res[key] = {"synapses_with_gradient": int(act.sum()), "snr_median": float(np.median(snr)),
                    "fraction_of_batches_nonzero_median": float(np.median(nz)),
                    "snr_above_2": float(np.mean(snr > 2)), "rms_median": float(np.median(rms)),
                    "rms_below_adam_eps": float(np.mean(rms < 1e-8))}
    print(json.dumps(res, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("snapshot")
    s.add_argument("runs", nargs="+")
    s.add_argument("--poll", type=float, default=3.0)
    e = sub.add_parser("encoding")
    e.add_argument("--input", help="raw recordings (default: as tools/braille_convert.py)")
    e.add_argument("--thresholds", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    e.add_argument("--json")
    e.add_argument("--png")
    e.add_argument("--letter", default="A", help="letter whose first recording is drawn")
    g = sub.add_parser("figures")
    g.add_argument("runs", nargs="+")
    g.add_argument("--out", default="docs/img")
    g.add_argument("--prefix", default="braille_screen")
    g.add_argument("--data", help="data directory: also draw per-neuron hidden activity (delayprop-grad)")
    g.add_argument("--grad", default="build/delayprop-grad")
    g.add_argument("--every", type=int, default=0, help="with --data: hidden activity every N epochs")
    n = sub.add_parser("gradients")
    n.add_argument("run")
    n.add_argument("--data", default="data/braille_th1")
    n.add_argument("--batches", type=int, default=8)
    n.add_argument("--batch-size", type=int, default=32)
    n.add_argument("--grad", default="build/delayprop-grad")
    n.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "gradients":
        return gradient_noise(args)
    if args.cmd == "figures":
        return figures(args)
    if args.cmd == "encoding":
        return encoding_check(args)
    if args.cmd == "snapshot":
        return snapshot(args.runs, args.poll)
    return 0


if __name__ == "__main__":
    sys.exit(main())
