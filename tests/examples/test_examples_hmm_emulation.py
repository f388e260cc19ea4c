"""The HMM-emulation report script: a two-phase run is reported with both phases."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from hmm_emulation import training_phases  # noqa: E402

from mbplan.hmm.training import HMMTrainConfig, train_emulator  # noqa: E402
from mbplan.training.checkpoint import load_checkpoint  # noqa: E402
from mbplan.training.run_directory import RunDirectory  # noqa: E402


def test_training_phases_follow_init_from_and_cut_at_the_carried_epoch(tmp_path):
    torch.set_num_threads(1)
    first = HMMTrainConfig(
        family="three",
        out=str(tmp_path / "a"),
        hidden_size=6,
        input_size=3,
        num_seq=60,
        seq_len=5,
        batch_size=20,
        epochs=4,
        lr=0.05,
        progress=False,
    )
    train_emulator(first)
    second = dataclasses.replace(
        first, out=str(tmp_path / "b"), epochs=2, lr=0.01, init_from=str(tmp_path / "a/best.pt")
    )
    train_emulator(second)
    phases = training_phases(RunDirectory(tmp_path / "b"))
    best_epoch = int(load_checkpoint(tmp_path / "a" / "best.pt")["best"]["epoch"])
    first_curve = [row["val_loss"] for row in RunDirectory(tmp_path / "a").read_metrics()]
    assert [(p["lr"], p["epochs"], p["carried_epoch"]) for p in phases] == [
        (0.05, 4, best_epoch),
        (0.01, 2, 2),
    ]
    assert phases[0]["curve"] == first_curve[:best_epoch]
    assert len(phases[1]["curve"]) == 2
