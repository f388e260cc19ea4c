"""Emulator training: the loss falls, and an interrupted run resumes to the same weights."""

import json

import pytest
import torch

from mbplan.hmm.training import HMMTrainConfig, load_emulator, train_emulator


def _config(out: str, epochs: int) -> HMMTrainConfig:
    return HMMTrainConfig(
        family="three",
        out=out,
        hidden_size=12,
        input_size=4,
        num_seq=120,
        seq_len=8,
        batch_size=20,
        epochs=epochs,
        lr=1e-2,
        progress=False,
    )


def test_resume_equals_uninterrupted_and_files(tmp_path) -> None:
    torch.set_num_threads(1)
    straight = train_emulator(_config(str(tmp_path / "a"), 4))
    train_emulator(_config(str(tmp_path / "b"), 2))
    resumed = train_emulator(_config(str(tmp_path / "b"), 4))
    a, b = load_emulator(tmp_path / "a" / "last.pt"), load_emulator(tmp_path / "b" / "last.pt")
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert straight["best_val_loss"] == resumed["best_val_loss"]
    rows = [
        json.loads(line) for line in (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [row["epoch"] for row in rows] == [1, 2, 3, 4]
    assert json.loads((tmp_path / "a" / "config.json").read_text())["grad_clip"] == 0.9
    with pytest.raises(ValueError, match="different settings"):
        train_emulator(HMMTrainConfig(**{**_config(str(tmp_path / "a"), 4).__dict__, "lr": 0.5}))
    with pytest.raises(ValueError, match="family"):
        train_emulator(_config(str(tmp_path / "c"), 1).__class__(family="six", out="x"))


def test_command_line_trains_and_evaluates(tmp_path, capsys) -> None:
    from mbplan.cli import main

    out = str(tmp_path / "run")
    args = ["hmm", "train", "--family", "cyclic", "--out", out, "--num-seq", "60", "--seq-len", "6"]
    args += ["--batch-size", "20", "--epochs", "1", "--hidden-size", "8", "--input-size", "3"]
    assert main([*args, "--progress", "False"]) == 0
    assert main(["hmm", "evaluate", out, "--num-seq", "30", "--seq-len", "6"]) == 0
    report = json.loads((tmp_path / "run" / "emission_report.json").read_text())
    assert report["family"] == "cyclic" and len(report["transition_matrix_rnn"]) == 3
    assert "HMM-HMM" in capsys.readouterr().out


def test_init_from_starts_from_the_checkpoint_weights(tmp_path) -> None:
    """A second phase starts from the first phase's weights, not the seed's, and says so."""
    import dataclasses

    from mbplan.hmm.training import initial_emulator

    torch.set_num_threads(1)
    train_emulator(_config(str(tmp_path / "phase1"), 2))
    trained = load_emulator(tmp_path / "phase1" / "last.pt")
    phase2 = dataclasses.replace(
        _config(str(tmp_path / "phase2"), 1), lr=1e-3, init_from=str(tmp_path / "phase1/last.pt")
    )
    start = initial_emulator(phase2, 3, torch.Generator().manual_seed(0), torch.device("cpu"))
    seeded = initial_emulator(
        dataclasses.replace(phase2, init_from=""), 3, torch.Generator().manual_seed(0), "cpu"
    )
    for loaded, wanted, fresh in zip(
        start.parameters(), trained.parameters(), seeded.parameters(), strict=True
    ):
        assert torch.equal(loaded, wanted) and not torch.equal(loaded, fresh)
    train_emulator(phase2)
    saved = json.loads((tmp_path / "phase2" / "config.json").read_text())
    assert saved["init_from"].endswith("phase1/last.pt")
    wider = dataclasses.replace(phase2, out=str(tmp_path / "phase3"), hidden_size=13)
    with pytest.raises(ValueError, match="init_from: .* holds an emulator"):
        train_emulator(wider)
    with pytest.raises(ValueError, match="init_from: no checkpoint"):
        train_emulator(dataclasses.replace(phase2, out=str(tmp_path / "p4"), init_from="nope.pt"))
    assert not (tmp_path / "phase3").exists()
