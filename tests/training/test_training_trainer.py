"""The trainer: learning, exact resume after Ctrl-C, NaN stop, checkpoints, determinism."""

from __future__ import annotations

import json
import signal

import pytest
import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.training.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from mbplan.training.config import TrainConfig, preset_config
from mbplan.training.trainer import NonFiniteLossError, Trainer

SMALL = {"hidden_size": 4, "feature_size": 8, "depth": 1, "f_pre_layers": 1, "f_init_layers": 1}


def bouncing_lines(n: int = 32, steps: int = 12, seed: int = 0) -> SequenceTensors:
    """Straight lines with a velocity flip half-way: a hidden factor only memory can carry."""
    generator = torch.Generator().manual_seed(seed)
    start = torch.rand(n, 1, 2, generator=generator)
    velocity = 0.2 * (torch.rand(n, 1, 2, generator=generator) - 0.5)
    t = torch.arange(steps + 1, dtype=torch.float32)[None, :, None]
    flip = torch.where(t < steps // 2, t, steps - t)
    observations = start + velocity * flip
    return SequenceTensors(
        observations=observations,
        actions=torch.zeros(n, steps, 0),
        flags=torch.zeros(n, steps + 1, 0),
        subset=torch.arange(n) % 2,
        subset_names=("a", "b"),
    )


def small_config(tmp_path, name="run", **overrides) -> TrainConfig:
    values = {
        "out": str(tmp_path / name),
        "core": "gatel0rd",
        "regime": "ss",
        "ss_slope": 0.7,
        "epochs": 4,
        "batch_size": 8,
        "batches_per_epoch": 3,
        "balance_subsets": True,
        "lr": 3e-3,
        "model": SMALL,
        "tensorboard": False,
    }
    values.update(overrides)
    return preset_config("tiny", **values)


def weights(model) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def one_step_mse(model, data) -> float:
    model.eval()
    with torch.no_grad():
        predictions = model(data.observations[:, :-1], data.actions, 1.0).predictions
    return float((predictions - data.observations[:, 1:]).pow(2).mean())


def test_a_tiny_model_overfits_a_tiny_dataset(tmp_path):
    generator = torch.Generator().manual_seed(0)
    n, steps = 8, 10
    start = torch.rand(n, 1, 2, generator=generator)
    velocity = torch.rand(n, 1, 2, generator=generator) - 0.5
    t = torch.arange(steps + 1.0)[None, :, None]
    data = SequenceTensors(
        observations=start + velocity * t,
        actions=torch.zeros(n, steps, 0),
        flags=torch.zeros(n, steps + 1, 0),
        subset=torch.zeros(n, dtype=torch.long),
    )
    config = small_config(
        tmp_path,
        core="gru",
        regime="tf",
        epochs=100,
        batches_per_epoch=1,
        lr=1e-2,
        eval_every=50,
        balance_subsets=False,
        model={**SMALL, "hidden_size": 8},
    )
    trainer = Trainer(config, data, data)
    before = one_step_mse(trainer.model, data)
    result = trainer.fit()
    after = one_step_mse(trainer.model, data)
    assert after < before / 10, (before, after)
    # the logged training loss falls as well (mean of epochs 1-50, then of 51-100)
    assert result.metrics[1]["train_mse"] < result.metrics[0]["train_mse"] / 2


def test_interrupted_and_resumed_run_ends_with_identical_weights(tmp_path):
    data = bouncing_lines()
    reference = Trainer(small_config(tmp_path, "straight"), data, data)
    reference.fit()

    interrupted = Trainer(small_config(tmp_path, "interrupted"), data, data)
    forward = interrupted.model.forward
    calls = {"train": 0}

    def interrupt_mid_epoch(*args, **kwargs):
        if interrupted.model.training:
            calls["train"] += 1
            if calls["train"] == 5:  # epoch 1, batch 1 (0-based): Ctrl-C during the update
                signal.raise_signal(signal.SIGINT)
        return forward(*args, **kwargs)

    interrupted.model.forward = interrupt_mid_epoch
    result = interrupted.fit()
    assert result.interrupted and (result.epochs_done, result.batches_done) == (1, 2)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored

    resumed = Trainer.resume(tmp_path / "interrupted", train_data=data, val_data=data)
    assert (resumed.position.epoch, resumed.position.batch) == (1, 2)
    final = resumed.fit()
    assert not final.interrupted and final.epochs_done == 4
    assert_same_weights(weights(reference.model), weights(resumed.model))
    assert [r["val_mse"] for r in final.metrics] == [
        r["val_mse"] for r in reference.run.read_metrics()
    ]
    assert [r["train_loss"] for r in final.metrics] == [
        r["train_loss"] for r in reference.run.read_metrics()
    ]


def test_same_seed_same_run_and_another_seed_another(tmp_path):
    data = bouncing_lines()
    runs = [
        Trainer(small_config(tmp_path, name, seed=seed, epochs=2), data, data)
        for name, seed in (("a", 5), ("b", 5), ("c", 6))
    ]
    for trainer in runs:
        trainer.fit()
    assert_same_weights(weights(runs[0].model), weights(runs[1].model))
    differs = [
        not torch.equal(value, runs[2].model.state_dict()[key])
        for key, value in runs[0].model.state_dict().items()
    ]
    assert any(differs)


def test_nan_loss_stops_with_the_epoch_and_keeps_the_last_good_checkpoint(tmp_path):
    data = bouncing_lines()
    trainer = Trainer(small_config(tmp_path, epochs=5), data, data)
    forward = trainer.model.forward
    calls = {"train": 0}

    def poisoned(*args, **kwargs):
        output = forward(*args, **kwargs)
        if trainer.model.training:
            calls["train"] += 1
            if calls["train"] == 7:  # epoch 2 (0-based), batch 0
                return output._replace(predictions=output.predictions * float("nan"))
        return output

    trainer.model.forward = poisoned
    with pytest.raises(NonFiniteLossError, match="epoch 2 .*batch 0"):
        trainer.fit()
    payload = load_checkpoint(trainer.run.last_checkpoint)
    assert payload["epoch"] == 2 and payload["batch"] == 0
    assert all(torch.isfinite(value).all() for value in payload["model"].values())
    assert [row["epoch"] for row in trainer.run.read_metrics()] == [1, 2]


def test_checkpoints_load_with_weights_only_and_rebuild_the_model(tmp_path):
    data = bouncing_lines()
    trainer = Trainer(small_config(tmp_path, epochs=2), data, data)
    result = trainer.fit()
    raw = torch.load(trainer.run.last_checkpoint, weights_only=True)
    assert {"model", "optimizer", "epoch", "rng", "config", "model_hparams"} <= raw.keys()
    assert raw["epoch"] == 2 and raw["config"]["core"] == "gatel0rd"
    best = load_checkpoint(trainer.run.best_checkpoint)
    assert best["epoch"] == result.best_epoch
    rebuilt = model_from_checkpoint(best)
    assert not rebuilt.training
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["lr"] == 3e-3 and config["model"]["hidden_size"] == 4


def test_bad_checkpoint_files_give_errors_naming_the_file(tmp_path):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="broken.pt"):
        load_checkpoint(broken)
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="missing"):
        save_checkpoint(tmp_path / "x.pt", {"model": {}})
    incomplete = tmp_path / "incomplete.pt"
    torch.save({"model": {}}, incomplete)
    with pytest.raises(ValueError, match="incomplete.pt.*missing keys"):
        load_checkpoint(incomplete)


def test_a_new_run_refuses_an_existing_run_directory(tmp_path):
    data = bouncing_lines()
    Trainer(small_config(tmp_path, epochs=1), data, data).fit()
    with pytest.raises(FileExistsError, match="--resume"):
        Trainer(small_config(tmp_path, epochs=1), data, data).fit()
    with pytest.raises(ValueError, match="only"):
        Trainer.resume(tmp_path / "run", train_data=data, val_data=data, lr=1.0)


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="regime"):
        TrainConfig(regime="free")
    with pytest.raises(ValueError, match="ss_floor"):
        TrainConfig(ss_floor=2.0)
    with pytest.raises(ValueError, match="unknown field"):
        TrainConfig.from_dict({"epochz": 3})
    assert TrainConfig.from_dict(TrainConfig(subsets=("a",)).to_dict()) == TrainConfig(
        subsets=("a",)
    )


def test_shepherd_validation_rows_carry_the_reappearance_error(tmp_path, shepherd_sequences):
    from mbplan.evaluation.comparison import write_comparison
    from mbplan.evaluation.reappearance import reappearance_error

    data = shepherd_sequences(40)
    config = small_config(tmp_path, epochs=2, eval_every=1, balance_subsets=False)
    trainer = Trainer(config, data, data)
    rows = trainer.fit().metrics
    assert [row["epoch"] for row in rows] == [1, 2]
    # the value logged is the metric of the model at that validation (last.pt after epoch 2)
    last = model_from_checkpoint(load_checkpoint(trainer.run.last_checkpoint))
    scored = reappearance_error(last, data, batch_size=config.eval_batch_size)
    assert scored["n"] >= 5  # sequences where the gate opens
    expected = scored["mse"]
    assert rows[-1]["val_reappearance"] == pytest.approx(expected, rel=1e-6)
    assert rows[0]["val_reappearance"] != rows[1]["val_reappearance"]
    # a comparison of such runs draws the reappearance curve and tabulates the error
    result = {
        "run": {"run_dir": str(trainer.run.path), "core": "gatel0rd", "regime": "ss", "seed": 0},
        "horizon": data.steps,
        "mse": rows[-1]["val_mse"],
        "mse_per_step": [rows[-1]["val_mse"]] * data.steps,
        "reappearance": {"mse": expected},
    }
    files = write_comparison([result], tmp_path / "comparison")
    assert files["reappearance_curves"].stat().st_size > 0
    assert f"{expected:.3g} ± 0 |" in files["table"].read_text()
    # data without a gate flag log no reappearance error and draw no such curve
    plain = Trainer(
        small_config(tmp_path, name="plain", epochs=1), bouncing_lines(), bouncing_lines()
    )
    assert "val_reappearance" not in plain.fit().metrics[0]
