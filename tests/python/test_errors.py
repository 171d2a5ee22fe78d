"""Bad input from Python raises ValueError or delayprop.Error with a one-line message that
names the problem; nothing crashes."""
import numpy as np
import pytest

import delayprop


@pytest.fixture()
def setup(config, events):
    samples, labels = events
    params = config.init_params(1)
    engine = delayprop.Engine(config)
    return config, params, engine, delayprop.make_batch(config, samples[:4], labels[:4])


def test_bad_params(setup):
    config, params, engine, batch = setup
    bad = {k: dict(v) for k, v in params.items()}
    bad["in_hid"]["weights"] = np.zeros((3, 12))
    with pytest.raises(ValueError, match=r"params\['in_hid'\]\['weights'\]: expected shape \(4, 12\), got \(3, 12\)"):
        engine.forward(bad, batch)
    bad["in_hid"]["weights"] = params["in_hid"]["weights"].copy()
    bad["in_hid"]["weights"][1, 2] = np.nan
    with pytest.raises(ValueError, match="in_hid"):
        engine.forward(bad, batch)
    bad["in_hid"]["weights"] = params["in_hid"]["weights"]
    bad["in_hid"]["delays"] = -params["in_hid"]["delays"] - 1
    with pytest.raises(ValueError, match="delay"):
        engine.forward(bad, batch)
    with pytest.raises(ValueError, match="unknown connection 'nope'"):
        engine.forward({**params, "nope": params["in_hid"]}, batch)
    with pytest.raises(ValueError, match="'hid_out' is missing"):
        engine.forward({"in_hid": params["in_hid"]}, batch)
    with pytest.raises(ValueError, match="expected a float array"):
        engine.forward({**params, "in_hid": {"weights": "x", "delays": params["in_hid"]["delays"]}}, batch)


def test_bad_backward(setup):
    config, params, engine, batch = setup
    with pytest.raises(ValueError, match="call forward first"):
        delayprop.Engine(config).backward(params, np.zeros((4, 3)))
    engine.forward(params, batch)
    with pytest.raises(ValueError, match=r"output_grad: expected shape \(4, 3\), got \(4, 2\)"):
        engine.backward(params, np.zeros((4, 2)))
    g = np.zeros((4, 3))
    g[2, 1] = np.inf
    with pytest.raises(ValueError, match="output_grad: element 2, 1 is inf"):
        engine.backward(params, g)
    with pytest.raises(ValueError, match="unknown population 'x'"):
        engine.backward(params, np.zeros((4, 3)), {"x": np.zeros(3)})
    with pytest.raises(ValueError, match=r"labels\[0\] = 7"):
        delayprop.loss(config, engine.forward(params, batch), [7, 0, 0, 0])


def test_bad_events(config):
    with pytest.raises(delayprop.Error, match="sample 0 event 1 has time nan ms"):
        delayprop.make_batch(config, [(np.array([1.0, np.nan]), np.array([0, 1]))])
    with pytest.raises(ValueError, match="sample 0 event 0: unit 8 is outside"):
        delayprop.make_batch(config, [(np.array([1.0]), np.array([8]))])
    with pytest.raises(ValueError, match="sample 1: expected 1-D times and units of one length"):
        delayprop.make_batch(config, [(np.array([1.0]), np.array([0])), (np.array([1.0, 2.0]), np.array([0]))])
    with pytest.raises(ValueError, match=r"labels\[0\] = 3 is outside \[0, 3\)"):
        delayprop.make_batch(config, [(np.array([1.0]), np.array([0]))], labels=[3])
    with pytest.raises(ValueError, match="time_unit"):
        delayprop.make_batch(config, [(np.array([1.0]), np.array([0]))], time_unit="min")
    with pytest.raises(ValueError, match="units must be integers"):
        delayprop.make_batch(config, [(np.array([1.0]), np.array([0.5]))])
    ev = np.zeros(2, [("t", np.int64), ("x", np.int16), ("y", np.int16)])
    with pytest.raises(ValueError, match="'y' field"):
        delayprop.make_batch(config, [ev])
    # Times in seconds read as ms: most events late, an error naming the time unit.
    with pytest.raises(delayprop.Error, match="time"):
        delayprop.make_batch(config, [(np.array([5.0, 6.0, 7.0]), np.array([0, 1, 2]))], time_unit="s")


def test_bad_configs(config, tmp_path):
    with pytest.raises(delayprop.Error, match="unknown key.*bogus|bogus"):
        delayprop.load_config(config, ["train.bogus=1"])
    import tomllib
    d = tomllib.loads(config.toml)
    d["network"]["typo"] = 1
    with pytest.raises(delayprop.Error, match="typo"):
        delayprop.load_config(d)
    d["network"].pop("typo")
    d["network"]["dt"] = object()
    with pytest.raises(ValueError, match="config key 'network.dt'"):
        delayprop.load_config(d)
    with pytest.raises(delayprop.Error, match="nope.toml"):
        delayprop.load_config(tmp_path / "nope.toml")
    with pytest.raises(ValueError, match="precision"):
        delayprop.Engine(config, precision="float16")
    with pytest.raises(delayprop.Error, match="backend"):
        delayprop.Engine(config, backend="tpu")
    with pytest.raises(delayprop.Error):
        delayprop.read_params(config, tmp_path / "missing.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(delayprop.Error, match="junk.h5"):
        delayprop.read_params(config, tmp_path / "junk.h5")


def test_import_has_no_side_effects():
    import signal
    assert delayprop.__version__ == delayprop._core.build_info()["version"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
