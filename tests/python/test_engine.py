"""The engine from Python: the gradients of delayprop-grad, bit for bit, from a batch file and
from numpy events in every layout; an external dL/dy through backward."""
import numpy as np

import delayprop
from conftest import CONFIG, run_driver, same_bits


def test_gradients_equal_delayprop_grad(tmp_path, data_dir, config, events):
    out = tmp_path / "grad.h5"
    run_driver("grad", "--config", CONFIG, "--set", f'data.path="{data_dir}"', "--input", data_dir / "test.h5",
               "--param-seed", 5, "--out", out)
    params = config.init_params(5)
    same_bits(params, delayprop.read_params(config, out, group="/params"))
    r = delayprop.Engine(config).gradients(params, delayprop.read_batch(config, data_dir / "test.h5"))
    same_bits(r["grad"], delayprop.read_gradients(config, out))
    # Another thread count and a numpy batch give the same bits (make_batch is the one path).
    batch = delayprop.make_batch(config, *events)
    r2 = delayprop.Engine(config, threads=2).gradients(params, batch)
    same_bits(r2["grad"], r["grad"])
    assert r2["loss"] == r["loss"] and r2["correct"] == r["correct"]


def test_numpy_batch_equals_file_batch(data_dir, config, events):
    samples, labels = events
    a = delayprop.read_batch(config, data_dir / "test.h5")
    b = delayprop.make_batch(config, samples, labels)
    for field in ("offsets", "steps", "channels", "labels"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert a.stats == b.stats and b.stats["merged"] > 0 and b.stats["dropped_late"] == len(samples)


def test_time_units_and_tonic_layout(config):
    # Integer microseconds (tonic's t), the same events in ms and in s: one batch.
    rng = np.random.default_rng(3)
    t_us = [np.sort(rng.integers(0, 29_000, 20)) for _ in range(4)]
    x = [rng.integers(0, 8, 20) for _ in range(4)]
    dtype = np.dtype([("t", np.int64), ("x", np.int16), ("p", np.int8)])
    tonic = []
    for t, u in zip(t_us, x):
        ev = np.zeros(len(t), dtype)
        ev["t"], ev["x"], ev["p"] = t, u, 1
        tonic.append(ev)
    a = delayprop.make_batch(config, tonic)
    b = delayprop.make_batch(config, [(t / 1000.0, u) for t, u in zip(t_us, x)])
    c = delayprop.make_batch(config, [(t / 1e6, u) for t, u in zip(t_us, x)], time_unit="s")
    d = delayprop.make_batch(config, [(t, u) for t, u in zip(t_us, x)], time_unit="us")
    for other in (b, d):
        assert np.array_equal(a.steps, other.steps) and np.array_equal(a.channels, other.channels)
    assert c.n_samples == 4 and a.labels is None


def test_forward_and_external_loss(data_dir, config, events):
    samples, labels = events
    params = config.init_params(5)
    engine = delayprop.Engine(config, precision="float32", threads=1)
    batch = delayprop.make_batch(config, samples, labels)
    fwd = engine.forward(params, batch)
    assert fwd.readout.shape == (len(samples), 3) and (fwd.first_spike_step == -1).all()  # LI outputs
    assert fwd.spike_counts["hid"].shape == (12,)
    # The config's loss fed through backward by hand equals gradients().
    lo = delayprop.loss(config, fwd, labels)
    kicks = delayprop.regulariser_kicks(config, fwd)
    grad = engine.backward(params, lo["output_grad"], kicks)
    same_bits(grad, engine.gradients(params, batch)["grad"])
    # A custom loss: L = sum(y^2) / 2, dL/dy = y; backward is linear in dL/dy.
    g1 = engine.backward(params, fwd.readout)
    engine.forward(params, batch)
    g2 = engine.backward(params, 2 * fwd.readout)
    for name in g1:
        assert np.allclose(g2[name]["weights"], 2 * g1[name]["weights"], rtol=1e-12, atol=0)


def test_params_round_trip(tmp_path, config):
    params = config.init_params(11)
    delayprop.write_params(config, params, tmp_path / "p.h5")
    same_bits(delayprop.read_params(config, tmp_path / "p.h5"), params)
    last = config.init_params(12)
    delayprop.write_model(config, tmp_path / "m.h5", params, last)
    same_bits(delayprop.read_params(config, tmp_path / "m.h5"), params)
    same_bits(delayprop.read_params(config, tmp_path / "m.h5", "last"), last)
    cfg2, best = delayprop.load_model(tmp_path / "m.h5")
    same_bits(best, params)
    assert cfg2.toml == config.toml


def test_config_sources(config):
    import tomllib
    as_dict = tomllib.loads(config.toml)
    for source in (as_dict, config.toml, CONFIG):
        c = delayprop.load_config(source, [f'data.path="{as_dict["data"]["path"]}"'])
        assert [x["shape"] for x in c.connections] == [(4, 12), (12, 3)]
        assert c.n_steps == 30 and c.n_input_channels == 4 and c.n_outputs == 3
    assert tomllib.loads(delayprop.load_config(as_dict).toml) == as_dict
