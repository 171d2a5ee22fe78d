#!/usr/bin/python3
"""Converts the tactile Braille letters dataset (Mueller-Cleve et al. 2022) to delayprop's
event layout (docs/DATA.md): OUT/{train,valid,test}.h5, a stratified 70/10/20 split.

Input, one of:
  * the raw recordings, tutorial5_braille_spiking_data.pkl.gz (a gzipped pickle: list of
    1350 dicts with letter, repetition, taxel_data ~76 x 12 at 40 Hz): encoded here with the
    benchmark's sigma-delta scheme at --threshold (docs/MODEL.md §8);
  * a published event pickle, data_braille_letters_th_X.pkl (list of dicts with letter and
    events[12][2] -> times): taken as is.

Run with /usr/bin/python3 (needs numpy and h5py).
  tools/braille_convert.py --threshold 5 --out data/braille_th5
  tools/braille_convert.py --self-test
"""
import argparse
import gzip
import os
import pickle
import sys

import numpy as np

LETTERS = ["Space"] + [chr(ord("A") + i) for i in range(26)]  # label = index: Space 0, A..Z 1..26
N_TAXELS = 12
N_CHANNELS = 2 * N_TAXELS  # channel = 2 * taxel + (0 ON, 1 OFF)
RATE_HZ = 40.0
SPLIT = (0.7, 0.1, 0.2)
RAW_NAME = "tutorial5_braille_spiking_data.pkl.gz"
SKIP = 77  # ctest's SKIP_RETURN_CODE


def encode_taxel(x, threshold, rate=RATE_HZ):
    """Sigma-delta encoding of one taxel signal x (already |255 - raw|).

    The reference level starts at x[0]. Walking the signal (between consecutive samples it is
    linear, so walking from extremum to extremum visits the same crossings), every time x
    reaches level + threshold an ON event is emitted and the level moves up by threshold;
    every time it reaches level - threshold an OFF event, level moves down. The event time is
    the linear interpolation between the two samples. Returns (on, off) times in seconds.
    """
    x = np.asarray(x, dtype=np.float64)
    on, off = [], []
    level = x[0]
    for i in range(len(x) - 1):
        a, b = x[i], x[i + 1]
        if b > a:
            while b >= level + threshold:
                level += threshold
                on.append((i + (level - a) / (b - a)) / rate)
        elif b < a:
            while b <= level - threshold:
                level -= threshold
                off.append((i + (a - level) / (a - b)) / rate)
    return on, off


def encode_sample(taxel_data, threshold):
    """All events of one recording: (times in s, channels), ordered by time then channel."""
    data = np.asarray(taxel_data, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != N_TAXELS:
        raise ValueError("taxel_data must be T x %d, got shape %s" % (N_TAXELS, data.shape))
    x = np.abs(255.0 - data)
    times, chans = [], []
    for k in range(N_TAXELS):
        on, off = encode_taxel(x[:, k], threshold)
        times += on + off
        chans += [2 * k] * len(on) + [2 * k + 1] * len(off)
    return order_events(times, chans)


def order_events(times, chans):
    times = np.asarray(times, dtype=np.float64)
    chans = np.asarray(chans, dtype=np.uint32)
    order = np.lexsort((chans, times))
    return times[order], chans[order]


def label_of(letter):
    if letter not in LETTERS:
        raise ValueError("unknown letter %r (expected Space or A..Z)" % (letter,))
    return LETTERS.index(letter)


def read_pickle(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return pickle.load(f)


def from_raw(records, threshold):
    """Raw recordings (list of dicts with taxel_data) -> samples (times s, channels, label, repetition)."""
    samples = []
    for i, r in enumerate(records):
        try:
            t, c = encode_sample(r["taxel_data"], threshold)
            samples.append((t, c, label_of(r["letter"]), int(r.get("repetition", -1))))
        except (KeyError, ValueError) as e:
            raise ValueError("record %d: %s" % (i, e))
    return samples


def from_events(data, time_scale):
    """A published event pickle: list of {letter, events[12][2] -> times} (or a dict of columns)."""
    if isinstance(data, dict):  # columns -> records
        keys = list(data.keys())
        data = [dict(zip(keys, vals)) for vals in zip(*[data[k] for k in keys])]
    samples = []
    for i, r in enumerate(data):
        ev = r["events"]
        if len(ev) != N_TAXELS or any(len(p) != 2 for p in ev):
            raise ValueError("record %d: events must be [12][2] lists of times" % i)
        times, chans = [], []
        for k in range(N_TAXELS):
            for pol in range(2):
                ts = np.asarray(ev[k][pol], dtype=np.float64).ravel() * time_scale
                times += list(ts)
                chans += [2 * k + pol] * len(ts)
        t, c = order_events(times, chans)
        samples.append((t, c, label_of(r["letter"]), int(r.get("repetition", -1))))
    return samples


def is_raw(data):
    first = data[0] if isinstance(data, list) and data else None
    return isinstance(first, dict) and "taxel_data" in first


def stratified_split(labels, seed, fractions=SPLIT):
    """Per class: shuffle with the seed, first round(0.7 n) train, next round(0.1 n) valid, the
    rest test; each part is then shuffled so classes are interleaved."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    parts = ([], [], [])
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        n_tr = int(round(fractions[0] * len(idx)))
        n_va = int(round(fractions[1] * len(idx)))
        parts[0].extend(idx[:n_tr])
        parts[1].extend(idx[n_tr:n_tr + n_va])
        parts[2].extend(idx[n_tr + n_va:])
    return [np.asarray(p, dtype=np.int64)[rng.permutation(len(p))] for p in parts]


def write_split(path, samples, idx, attrs):
    import h5py

    with h5py.File(path, "w") as f:
        vt = h5py.vlen_dtype(np.dtype("float64"))
        vu = h5py.vlen_dtype(np.dtype("uint32"))
        dt = f.create_dataset("spikes/times", (len(idx),), dtype=vt)
        du = f.create_dataset("spikes/units", (len(idx),), dtype=vu)
        for j, i in enumerate(idx):
            dt[j] = samples[i][0]
            du[j] = samples[i][1]
        f["labels"] = np.asarray([samples[i][2] for i in idx], dtype=np.int64)
        f["extra/repetition"] = np.asarray([samples[i][3] for i in idx], dtype=np.int64)
        f["extra/source_index"] = np.asarray(idx, dtype=np.int64)
        f["extra/keys"] = np.asarray([s.encode() for s in LETTERS])
        for k, v in attrs.items():
            f.attrs.create(k, np.bytes_(str(v)))  # fixed-length ASCII strings


def default_input():
    here = os.path.dirname(os.path.abspath(__file__))
    cands = []
    if os.environ.get("DELAYPROP_DATA_DIR"):
        cands.append(os.path.join(os.environ["DELAYPROP_DATA_DIR"], "braille", RAW_NAME))
    for rel in ("../../shared/data", "../../../shared/data"):
        cands.append(os.path.normpath(os.path.join(here, rel, "braille", RAW_NAME)))
    for c in cands:
        if os.path.exists(c):
            return c
    return None


def self_test_cases():
    r = RATE_HZ
    cases = [
        # (signal, threshold, on times in samples, off times in samples)
        ([0, 10], 5, [0.5, 1.0], []),
        ([0, 7, 0], 5, [5 / 7], [2.0]),  # ON at x = 5 (level 5); OFF when x is back at 0
        ([3, 5, 4, 4, 6, 2], 3, [4.0], [4.75]),  # level 3 -> 6 at sample 4; 6 -> 3 at 4 + 3/4
        ([10, 10, 10], 1, [], []),
        ([10, 7], 1, [], [1 / 3, 2 / 3, 1.0]),
    ]
    for sig, th, want_on, want_off in cases:
        on, off = encode_taxel(sig, th)
        for got, want, what in ((on, want_on, "ON"), (off, want_off, "OFF")):
            want = [w / r for w in want]
            if len(got) != len(want) or not np.allclose(got, want, rtol=0, atol=1e-12):
                print("self-test FAILED: signal %s threshold %s %s: got %s, want %s" % (sig, th, what, got, want))
                return 1
    # Channels: taxel k ON -> 2k, OFF -> 2k + 1; raw 255 means no contact (x = 0).
    raw = np.full((3, N_TAXELS), 255.0)
    raw[1, 4] = 250.0  # taxel 4: x = 0, 5, 0
    t, c = encode_sample(raw, 5)
    if list(c) != [8, 9] or not np.allclose(t, [1 / r, 2 / r]):
        print("self-test FAILED: channels %s times %s" % (list(c), list(t)))
        return 1
    # Property on random signals: after each sample the level is within one threshold of x,
    # and the level is x[0] + threshold * (ON events - OFF events) so far.
    rng = np.random.default_rng(1)
    for th in (1.0, 2.0, 5.0, 10.0):
        for _ in range(50):
            x = np.cumsum(rng.integers(-12, 13, size=80)).astype(np.float64)
            on, off = encode_taxel(x, th)
            for i in range(len(x)):
                level = x[0] + th * (np.sum(np.asarray(on) <= i / r + 1e-12) - np.sum(np.asarray(off) <= i / r + 1e-12))
                if not abs(x[i] - level) < th:
                    print("self-test FAILED: random signal, threshold %g, sample %d: x %g level %g" % (th, i, x[i], level))
                    return 1
    # A published event pickle: events[taxel][polarity] -> times, as records or as columns.
    recs = [{"letter": "C", "events": [[[], []] for _ in range(N_TAXELS)], "repetition": 3}]
    recs[0]["events"][2][1] = [0.5, 0.1]
    recs[0]["events"][11][0] = [0.3]
    for data in (recs, {"letter": ["C"], "events": [recs[0]["events"]]}):
        (t, c, label, rep), = from_events(data, 1.0)
        if list(c) != [5, 22, 5] or not np.allclose(t, [0.1, 0.3, 0.5]) or label != 3:
            print("self-test FAILED: event pickle -> times %s channels %s label %s" % (list(t), list(c), label))
            return 1
    split = stratified_split(np.repeat(np.arange(27), 50), 0)
    if [len(p) for p in split] != [945, 135, 270] or len(np.unique(np.concatenate(split))) != 1350:
        print("self-test FAILED: split sizes %s" % [len(p) for p in split])
        return 1
    print("self-test passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--input", help="raw .pkl.gz or published event .pkl (default: shared/data/braille/" + RAW_NAME + ")")
    ap.add_argument("--threshold", type=float, choices=[1.0, 2.0, 5.0, 10.0], default=5.0,
                    help="sigma-delta threshold for raw input (default 5)")
    ap.add_argument("--out", help="output directory for train.h5, valid.h5, test.h5")
    ap.add_argument("--seed", type=int, default=0, help="seed of the stratified 70/10/20 split (default 0)")
    ap.add_argument("--event-time-unit", choices=["s", "ms"], default="s",
                    help="time unit of a published event pickle (default s)")
    ap.add_argument("--skip-if-missing", action="store_true",
                    help="exit with 77 (ctest skip) when the default input is absent")
    ap.add_argument("--self-test", action="store_true", help="check the encoder on known signals and exit")
    args = ap.parse_args()
    if args.self_test:
        return self_test_cases()
    if not args.out:
        ap.error("--out is required")
    path = args.input or default_input()
    if path is None or not os.path.exists(path):
        print("braille_convert: input not found: %s" % (path or "shared/data/braille/" + RAW_NAME), file=sys.stderr)
        return SKIP if args.skip_if_missing else 2
    try:
        data = read_pickle(path)
        if is_raw(data):
            threshold = args.threshold
            samples = from_raw(data, threshold)
            encoding = "sigma-delta threshold %g from raw recordings" % threshold
        else:
            threshold = None
            samples = from_events(data, 1.0 if args.event_time_unit == "s" else 1e-3)
            encoding = "published event pickle"
    except (OSError, ValueError, KeyError, TypeError, EOFError, pickle.UnpicklingError) as e:
        print("braille_convert: %s: %s" % (path, e), file=sys.stderr)
        return 2
    if len(set(s[2] for s in samples)) != len(LETTERS):
        print("braille_convert: %s: expected all %d letters" % (path, len(LETTERS)), file=sys.stderr)
        return 2

    labels = [s[2] for s in samples]
    parts = stratified_split(labels, args.seed)
    os.makedirs(args.out, exist_ok=True)
    attrs = {"time_unit": "s", "n_channels": N_CHANNELS, "n_classes": len(LETTERS), "seed": args.seed,
             "source": os.path.basename(path), "encoding": encoding}
    if threshold is not None:
        attrs["threshold"] = "%g" % threshold
    for name, idx in zip(("train", "valid", "test"), parts):
        write_split(os.path.join(args.out, name + ".h5"), samples, idx, attrs)

    n_events = np.array([len(s[0]) for s in samples])
    on = sum(int(np.sum(s[1] % 2 == 0)) for s in samples)
    print("input      %s (%s)" % (path, encoding))
    print("samples    %d  split train/valid/test %d/%d/%d (seed %d)" %
          (len(samples), len(parts[0]), len(parts[1]), len(parts[2]), args.seed))
    print("events     total %d (ON %d, OFF %d), per sample mean %.2f min %d max %d" %
          (n_events.sum(), on, n_events.sum() - on, n_events.mean(), n_events.min(), n_events.max()))
    t, c = samples[0][0], samples[0][1]
    print("sample 0   label %d, %d events, first: %s" %
          (samples[0][2], len(t), ", ".join("(%.6f s, ch %d)" % (t[k], c[k]) for k in range(min(5, len(t))))))
    print("last time  %.4f s" % max((s[0][-1] for s in samples if len(s[0])), default=0.0))
    print("wrote      %s/{train,valid,test}.h5" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
