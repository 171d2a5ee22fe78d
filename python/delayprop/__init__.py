"""delayprop: spiking neural networks with learnable weights and delays (EventProp).

The C++ library through Python (docs/PYTHON.md): configs, the engine's forward and backward
passes, parameters in model files and checkpoints, batches from numpy events, training and
evaluation. Importing the module starts no MPI and installs no signal handler.
"""
import json
import math
import os
import queue
import threading
from collections.abc import Mapping

import numpy as np

from ._core import (Batch, Config, Engine, Error, Forward, Preempted, StopFlag, load_model, loss,
                    read_batch, read_gradients, read_params, regulariser_kicks, write_checkpoint, write_model,
                    write_params)
from . import _core

__version__ = _core.build_info()["version"]

__all__ = ["__version__", "Batch", "Config", "Engine", "Error", "Forward", "Preempted", "StopFlag", "load_config",
           "load_model", "loss", "make_batch", "read_batch", "read_gradients", "read_params", "regulariser_kicks",
           "write_checkpoint", "write_model", "write_params", "train", "evaluate"]


def load_config(source, overrides=()):
    """A Config from a Config, a dict with the schema of docs/CONFIG.md, a TOML file (str or
    os.PathLike) or a TOML string (a str holding a line break or '='). overrides: driver-style
    "section.key=value" strings (value in TOML syntax), applied after the source."""
    overrides = list(overrides)
    if isinstance(source, Config):
        return source.with_overrides(overrides) if overrides else source
    if isinstance(source, Mapping):
        return Config.from_dict(dict(source), overrides)
    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source and "=" not in source):
        return Config.from_file(os.fspath(source), overrides)
    if isinstance(source, str):
        return Config.from_toml(source, "<string>", overrides)
    raise TypeError(f"config: expected a Config, dict, path or TOML string, got {type(source).__name__}")


# ---- events ---------------------------------------------------------------------------------

def _to_ms(t, unit):
    """Event times in ms: seconds are multiplied by 1000 (as the HDF5 reader does),
    microseconds divided by 1000."""
    t = np.asarray(t, dtype=np.float64)
    if unit == "ms":
        return t
    if unit == "s":
        return t * 1000.0
    if unit == "us":
        return t / 1000.0
    raise ValueError(f"time_unit must be 'ms', 's' or 'us', got {unit!r}")


def _samples(events, time_unit):
    """[(times in ms, units)] from a list of (times, units) pairs (times in time_unit, "ms" by
    default) or of structured arrays with fields t and x as tonic makes them (t in time_unit,
    "us" by default; p and other polarity-like fields are ignored)."""
    if isinstance(events, np.ndarray) and events.dtype.names is not None:
        raise ValueError("events: expected a list of samples; wrap a single structured array in a list")
    out = []
    for i, s in enumerate(events):
        if isinstance(s, np.ndarray) and s.dtype.names is not None:
            names = s.dtype.names
            if "t" not in names or "x" not in names:
                raise ValueError(f"sample {i}: a structured array needs fields 't' and 'x', it has {names}")
            if "y" in names:
                raise ValueError(f"sample {i}: events with a 'y' field (2-D sensors) need their (x, y) "
                                 "flattened into one unit first")
            out.append((_to_ms(s["t"], time_unit or "us"), np.asarray(s["x"])))
        else:
            try:
                times, units = s
            except (TypeError, ValueError):
                raise ValueError(f"sample {i}: expected a (times, units) pair or a structured array") from None
            units = np.asarray(units)
            if units.dtype.kind not in "iu" and units.size:
                raise ValueError(f"sample {i}: units must be integers, got dtype {units.dtype}")
            out.append((_to_ms(times, time_unit or "ms"), units))
    return out


def make_batch(config, events, labels=None, *, time_unit=None):
    """The input spikes of a batch, built by the library's one batching function: step =
    floor(t / dt), channels summed by data.sum_channels, duplicates merged as the config's data
    set kind does, events at or after the trial end dropped and counted (more than half of them
    late is an error naming the time unit). events: see _samples; labels: one int per sample
    (None: unlabelled, for forward passes and predictions)."""
    return _core.make_batch(load_config(config), _samples(events, time_unit), labels)


# ---- training and evaluation ----------------------------------------------------------------

def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return ("-inf" if v < 0 else "inf") if math.isinf(v) else "nan" if math.isnan(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise ValueError(f"override value {v!r}: no TOML form")


def _overrides(seed, threads, sets, sections):
    out = list(sets)
    for section, keys in sections.items():
        if not isinstance(keys, Mapping):
            raise TypeError(f"{section}=: expected a dict of keys of the config's [{section}] section")
        out += [f"{section}.{k}={_toml_value(v)}" for k, v in keys.items()]
    if seed is not None:
        out.append(f"train.seed={int(seed)}")
    if threads is not None:
        out.append(f"engine.threads={int(threads)}")
    return out


def train(config, out_dir, *, resume=False, overwrite=False, force=False, progress=False, on_epoch=None,
          seed=None, threads=None, set=(), **sections):
    """Trains as delayprop-train does (the same loop, files and results) and returns the summary
    (summary.json as a dict). Overrides: seed= and threads= (as --seed, --threads), set= a list
    of "section.key=value" strings (as --set), and one dict per config section, e.g.
    train={"epochs": 5}, optimizer={"lr_weights": 0.01}. on_epoch(metrics): called after every
    epoch with its metrics.jsonl record. Ctrl-C (or an exception from on_epoch) stops training
    at the next batch boundary with a checkpoint in out_dir, then raises KeyboardInterrupt (or
    that exception); train(..., resume=True) continues bit-exactly."""
    cfg = load_config(config, _overrides(seed, threads, set, sections))
    stop = StopFlag()
    lines = queue.SimpleQueue()
    result = {}

    def epoch_done(metrics):
        # The trainer waits until this thread has run on_epoch: a stop asked for there takes
        # effect at the next epoch's first batch.
        done = threading.Event()
        lines.put((metrics, done))
        while not done.wait(0.1) and not stop.is_set():
            pass

    def work():
        try:
            result["summary"] = _core.train(cfg, os.fspath(out_dir), resume, overwrite, force, progress, stop,
                                            epoch_done)
        except BaseException as e:  # handed to the calling thread
            result["error"] = e

    # The loop runs on a worker thread so that this thread stays in Python, where Ctrl-C
    # arrives as KeyboardInterrupt without a signal handler of our own.
    worker = threading.Thread(target=work, name="delayprop-train", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            try:
                metrics, done = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            try:
                if on_epoch is not None:
                    on_epoch(json.loads(metrics))
            except BaseException:
                stop.set()
                raise
            finally:
                done.set()
    except BaseException as e:
        stop.set()
        worker.join()
        if isinstance(e, KeyboardInterrupt) and isinstance(result.get("error"), Preempted):
            raise KeyboardInterrupt(str(result["error"])) from None  # says where it stopped
        raise
    if "error" in result:
        if isinstance(result["error"], Preempted):
            raise KeyboardInterrupt(str(result["error"]))
        raise result["error"]
    return json.loads(result["summary"])


def evaluate(config, params, data="test", *, labels=None, time_unit=None, batch_size=0):
    """Evaluates params as delayprop-eval does: data is a split of the config's data set
    ("train", "valid", "test") or events as make_batch takes them (with labels, or None for
    predictions only). Returns loss, accuracy, per-sample predictions and readouts, the
    confusion matrix (with labels) and spike counts per LIF population."""
    cfg = load_config(config)
    if isinstance(data, str):
        return _core.evaluate_split(cfg, params, data, batch_size)
    return _core.evaluate_samples(cfg, params, _samples(data, time_unit), labels, batch_size)
