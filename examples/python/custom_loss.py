#!/usr/bin/env python3
"""Gradients of a custom loss on the readouts: forward, dL/dy in numpy, backward.

The engine's backward pass takes dL/d(readout) as its input (the config's losses compute it
the same way, docs/MODEL.md §4), so any loss written in numpy drives the exact EventProp
gradients of every weight and delay. Here: a network given as a dict, 5 random spike
patterns, and a mean squared error between the LI readouts and targets; the output weights'
gradient is checked against central finite differences.

    python examples/python/custom_loss.py
"""
import numpy as np

import delayprop

config = delayprop.load_config({
    "network": {
        "dt": 0.05, "duration": 40.0,
        "population": [
            {"name": "in", "kind": "input", "size": 10},
            {"name": "hidden", "kind": "lif", "size": 20},
            {"name": "out", "kind": "li", "size": 2, "readout": "sum_exp"},
        ],
        "connection": [
            {"name": "in_hidden", "pre": "in", "post": "hidden", "max_delay": 10.0,
             "weight_init": {"dist": "normal", "mean": 1.5, "sd": 1.0},
             "delay_init": {"dist": "uniform", "low": 0.0, "high": 5.0}},
            {"name": "hidden_out", "pre": "hidden", "post": "out", "max_delay": 5.0,
             "weight_init": {"dist": "normal", "mean": 0.3, "sd": 0.5},
             "delay_init": {"dist": "uniform", "low": 0.0, "high": 2.0}},
        ],
    },
    "loss": {"kind": "cross_entropy"},
    "data": {"kind": "events"},
})

rng = np.random.default_rng(0)
events = []
for _ in range(5):
    n = 30
    events.append((np.sort(rng.uniform(0.0, 30.0, n)), rng.integers(0, 10, n)))  # times in ms
batch = delayprop.make_batch(config, events)
targets = rng.uniform(0.0, 2.0, (5, 2))

engine = delayprop.Engine(config, precision="float64")
params = config.init_params(seed=1)


def loss_of(y):
    return 0.5 * np.mean(np.sum((y - targets) ** 2, axis=1))


fwd = engine.forward(params, batch)
y = fwd.readout                          # (samples, outputs)
dL_dy = (y - targets) / y.shape[0]       # the custom loss's gradient, in numpy
grad = engine.backward(params, dL_dy)    # every weight and delay
print(f"loss {loss_of(y):.6f}, hidden spikes {fwd.hidden_spikes}")
for name, g in grad.items():
    print(f"{name}: |dL/dw| {np.linalg.norm(g['weights']):.3e}  |dL/dd| {np.linalg.norm(g['delays']):.3e}")

# Central finite differences on a few output weights (the readout is smooth in them): the
# adjoint equations are the continuous model's, so the two agree up to an error of order dt
# (0.2 % here at dt = 0.05 ms, tenfold more at dt = 0.5 ms; docs/MODEL.md §3.4).
eps = 1e-6
for i, j in [(0, 0), (3, 1), (7, 0)]:
    fd = []
    for sign in (1, -1):
        p = {k: {f: a.copy() for f, a in v.items()} for k, v in params.items()}
        p["hidden_out"]["weights"][i, j] += sign * eps
        fd.append(loss_of(engine.forward(p, batch).readout))
    fd = (fd[0] - fd[1]) / (2 * eps)
    print(f"hidden_out w[{i},{j}]: backward {grad['hidden_out']['weights'][i, j]:+.8e}  finite difference {fd:+.8e}")
    assert np.isclose(grad["hidden_out"]["weights"][i, j], fd, rtol=1e-2)
print("ok")
