"""Training from Python is the driver's training: the same parameters bit for bit; Ctrl-C
leaves a checkpoint that resumes to the same bits; evaluation matches the run's summary."""
import json
import signal

import pytest

import delayprop
from conftest import CONFIG, run_driver, same_bits

EPOCHS = 3


@pytest.fixture(scope="module")
def driver_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("driver") / "run"
    run_driver("train", "--config", CONFIG, "--set", f'data.path="{data_dir}"', "--set", f"train.epochs={EPOCHS}",
               "--seed", 4, "--threads", 2, "--quiet", "--out", out)
    return out


def test_train_equals_driver(tmp_path, data_dir, config, driver_run):
    seen = []
    summary = delayprop.train(CONFIG, tmp_path / "run", seed=4, threads=2, set=[f'data.path="{data_dir}"'],
                              train={"epochs": EPOCHS}, on_epoch=seen.append)
    assert [m["epoch"] for m in seen] == list(range(1, EPOCHS + 1))
    for which in ("best", "last"):
        same_bits(delayprop.read_params(config, tmp_path / "run/model.h5", which),
                  delayprop.read_params(config, driver_run / "model.h5", which))
    driver_lines = (driver_run / "metrics.jsonl").read_text().splitlines()[1:]
    for mine, theirs in zip(seen, map(json.loads, driver_lines)):
        for key in ("train_loss", "train_accuracy", "valid_accuracy", "test_accuracy"):
            assert mine.get(key) == theirs.get(key), key
    driver_summary = json.loads((driver_run / "summary.json").read_text())
    assert summary["test_accuracy"] == driver_summary["test_accuracy"]
    best = delayprop.read_params(config, tmp_path / "run/model.h5")
    ev = delayprop.evaluate(config, best, "test")
    assert ev["accuracy"] == summary["test_accuracy"] and ev["confusion"].sum() == ev["n"]


def test_ctrl_c_checkpoints_and_resumes(tmp_path, data_dir, config, driver_run):
    out = tmp_path / "run"
    kw = dict(seed=4, threads=2, set=[f'data.path="{data_dir}"'], train={"epochs": EPOCHS})

    def interrupt(metrics):
        if metrics["epoch"] == 1:
            signal.raise_signal(signal.SIGINT)  # what Ctrl-C does

    with pytest.raises(KeyboardInterrupt, match="stopped on request after epoch 2, batch 1 .*checkpoint written"):
        delayprop.train(CONFIG, out, on_epoch=interrupt, **kw)
    assert (out / "checkpoint.h5").exists() and not (out / "summary.json").exists()
    with pytest.raises(delayprop.Error, match="--resume|resume"):
        delayprop.train(CONFIG, out, **kw)  # a directory holding a run needs resume or overwrite
    delayprop.train(CONFIG, out, resume=True, **kw)
    same_bits(delayprop.read_params(config, out / "model.h5", "last"),
              delayprop.read_params(config, driver_run / "model.h5", "last"))


def test_evaluate_events_equals_split(data_dir, config, events):
    samples, labels = events
    params = config.init_params(2)
    a = delayprop.evaluate(config, params, "test")
    b = delayprop.evaluate(config, params, samples, labels=labels)
    assert a["loss"] == b["loss"] and a["correct"] == b["correct"]
    assert (a["readout"] == b["readout"]).all()
    c = delayprop.evaluate(config, params, samples)  # unlabelled: predictions only
    assert (c["prediction"] == a["prediction"]).all() and "confusion" not in c


def test_train_from_given_params(tmp_path, data_dir, config, driver_run):
    # The trainer's own initial parameters, handed over as a checkpoint: the driver's run.
    out = tmp_path / "run"
    delayprop.write_checkpoint(config.with_overrides(["train.seed=4"]), config.init_params(4), out)
    delayprop.train(CONFIG, out, resume=True, seed=4, threads=2, set=[f'data.path="{data_dir}"'],
                    train={"epochs": EPOCHS})
    same_bits(delayprop.read_params(config, out / "model.h5", "last"),
              delayprop.read_params(config, driver_run / "model.h5", "last"))
