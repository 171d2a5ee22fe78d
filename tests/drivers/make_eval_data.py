#!/usr/bin/env python3
"""Writes a small 3-class task in the event layout (docs/DATA.md) for tests/drivers/eval_run.sh:
8 raw channels (summed in pairs by data.sum_channels = 2), times in ms with time_unit = "ms",
many events duplicated within one 1 ms bin (merged by make_batch). Class k fires raw
channels 2k and 2k+1 early and noise anywhere.  Usage: make_eval_data.py OUT_DIR"""
import sys, pathlib
import numpy as np
import h5py

out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(7)


def sample(k):
    t, u = [], []
    for _ in range(4):
        c = 2 * k + int(rng.integers(0, 2))
        tt = 2.0 + 4.0 * k + rng.uniform(0, 3)
        t += [tt, np.floor(tt) + 0.9 * (tt - np.floor(tt))]  # same 1 ms bin: a duplicate
        u += [c, c]
    for _ in range(3):
        t.append(rng.uniform(0, 28)); u.append(int(rng.integers(0, 8)))
    t.append(31.5); u.append(0)  # past the 30 ms trial: dropped and counted
    o = np.argsort(t, kind="stable")
    return np.asarray(t)[o], np.asarray(u)[o]


def write(name, n, unit="ms", labels=True):
    ks = [i % 3 for i in range(n)]
    rows = [sample(k) for k in ks]
    with h5py.File(out / name, "w") as f:
        ft = f.create_dataset("spikes/times", (n,), dtype=h5py.vlen_dtype(np.float64))
        fu = f.create_dataset("spikes/units", (n,), dtype=h5py.vlen_dtype(np.uint16))
        for i, (t, u) in enumerate(rows):
            ft[i] = t / 1000.0 if unit == "s" else t
            fu[i] = u.astype(np.uint16)
        if labels:
            f["labels"] = np.asarray(ks, dtype=np.uint16)
        if unit is not None:
            f.attrs["time_unit"] = unit
    return ks


write("train.h5", 90)
write("valid.h5", 30)
ks = write("test.h5", 45)
np.savetxt(out / "test_labels.txt", ks, fmt="%d")
write("unlabelled.h5", 12, labels=False)
# Times in ms but no time_unit attribute: read as seconds, every event is late.
write("ms_without_unit.h5", 10, unit=None)
