"""Run folders from the command line: no results for options not used, no dead-end runs.

Each test is one of issue 12's "bad today" cases (numbered as there).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat

import pytest
import torch

from mbplan.cli import main
from mbplan.training import trainer as trainer_module
from mbplan.training.checkpoint import load_checkpoint

COMPARE = ["compare", "--preset", "tiny", "--regimes", "tf", "--horizon", "4"]
SMALL = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


def compare_argv(dataset, out, *extra):
    return [*COMPARE, "--data", str(dataset), "--out", str(out), *SMALL, *extra]


def test_1_compare_refuses_to_reuse_runs_trained_with_other_settings(dataset, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = compare_argv(dataset, out, "--cores", "gru", "--seeds", "0", "--epochs", "2")
    assert main(argv) == 0
    capsys.readouterr()
    before = (out / "gru_tf_s0" / "last.pt").stat().st_mtime_ns
    changed = [*argv, "--epochs", "4", "--lr", "0.05", "--model.hidden-size", "32"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    assert err.startswith("mbplan compare: ") and len(err.strip().splitlines()) == 1
    assert "lr: run has" in err and "model: run has" in err and "epochs:" not in err
    assert (out / "gru_tf_s0" / "last.pt").stat().st_mtime_ns == before  # nothing trained
    # more epochs alone may grow the run: it is resumed, not refused
    assert main([*argv, "--epochs", "3"]) == 0
    metrics = (out / "gru_tf_s0" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["epoch"] for row in metrics] == [1, 2, 3]
    # fewer epochs than the run has would report a longer run as the requested one
    assert main([*argv, "--epochs", "1"]) == 2
    assert "trained 3 epochs, more than the 1 requested" in capsys.readouterr().err


def test_2_duplicate_cores_or_seeds_are_an_error_before_any_work(dataset, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = compare_argv(dataset, out, "--cores", "gru", "gru", "--seeds", "0", "0")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "cores: gru given more than once" in err
    assert not out.exists()
    argv = compare_argv(dataset, out, "--cores", "gru", "GRU", "--seeds", "0")
    assert main(argv) == 2  # names are case-insensitive, so this is the same run twice
    assert main(compare_argv(dataset, out, "--cores", "gru", "--seeds", "1", "1")) == 2
    assert "seeds: 1 given more than once" in capsys.readouterr().err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_3_one_signal_stops_the_whole_sweep(dataset, tmp_path, capsys, monkeypatch, signum):
    out = tmp_path / "cmp"
    argv = compare_argv(dataset, out, "--cores", "gru", "elman", "--seeds", "0", "--epochs", "2")
    update = trainer_module.Trainer._update
    calls = {"n": 0}

    def update_then_signal(self, batch, prob):
        update(self, batch, prob)
        calls["n"] += 1
        if calls["n"] == 1:
            os.kill(os.getpid(), signum)  # what Ctrl-C or a scheduler does, mid-run

    monkeypatch.setattr(trainer_module.Trainer, "_update", update_then_signal)
    assert main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted; 0 of 2 runs finished" in err and "continue with: mbplan compare" in err
    payload = load_checkpoint(out / "gru_tf_s0" / "last.pt")
    # one batch per epoch here: saved after the first update, which ended epoch 0
    assert (payload["epoch"], payload["batch"]) == (1, 0)
    assert not (out / "elman_tf_s0").exists()  # the next run did not start
    monkeypatch.setattr(trainer_module.Trainer, "_update", update)
    assert main(argv) == 0  # the same command continues
    for name in ("gru_tf_s0", "elman_tf_s0"):
        rows = (out / name / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(row)["epoch"] for row in rows] == [1, 2]


def test_4_sigterm_saves_a_train_run(dataset, tmp_path, capsys, monkeypatch, train_argv):
    run = tmp_path / "run"
    update = trainer_module.Trainer._update

    def update_then_sigterm(self, batch, prob):
        update(self, batch, prob)
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(trainer_module.Trainer, "_update", update_then_sigterm)
    assert main(train_argv(dataset, run)) == 130
    assert f"mbplan train --resume {run}" in capsys.readouterr().out
    payload = load_checkpoint(run / "last.pt")
    assert (payload["epoch"], payload["batch"]) == (1, 0)  # of 3 epochs


def _final_weights(run) -> dict[str, torch.Tensor]:
    return load_checkpoint(run / "last.pt")["model"]


def test_4_a_run_killed_before_its_first_checkpoint_resumes_to_the_same_bytes(
    dataset, tmp_path, capsys, monkeypatch, train_argv
):
    reference = tmp_path / "reference"
    assert main(train_argv(dataset, reference)) == 0
    run = tmp_path / "run"
    save = trainer_module.save_checkpoint

    def disk_full(path, payload):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(trainer_module, "save_checkpoint", disk_full)
    assert main(train_argv(dataset, run)) == 2  # one line, not a traceback
    err = capsys.readouterr().err
    assert err.startswith("mbplan train: ") and "No space left on device" in err
    assert (run / "config.json").is_file() and not (run / "last.pt").exists()
    monkeypatch.setattr(trainer_module, "save_checkpoint", save)
    # the original command tells the truth about the folder and how to continue
    assert main(train_argv(dataset, run)) == 2
    err = capsys.readouterr().err
    assert "no checkpoint yet" in err and f"mbplan train --resume {run}" in err
    assert main(["train", "--resume", str(run)]) == 0
    for key, value in _final_weights(reference).items():
        assert torch.equal(value, _final_weights(run)[key]), key


def test_4_nan_in_the_first_update_leaves_a_true_message_and_a_resumable_run(
    dataset, tmp_path, capsys, monkeypatch, train_argv
):
    import dataclasses

    from mbplan.training.loss import prediction_loss

    def poisoned(model, output, target):
        terms = prediction_loss(model, output, target)
        return dataclasses.replace(terms, total=terms.total * float("nan"))

    monkeypatch.setattr(trainer_module, "prediction_loss", poisoned)
    run = tmp_path / "run"
    assert main(train_argv(dataset, run)) == 1
    err = capsys.readouterr().err
    assert f"{run / 'last.pt'} holds the run at epoch 0, batch 0" in err
    payload = load_checkpoint(run / "last.pt")
    assert (payload["epoch"], payload["batch"]) == (0, 0)
    monkeypatch.setattr(trainer_module, "prediction_loss", prediction_loss)
    assert main(["train", "--resume", str(run)]) == 0


def test_5_resume_refuses_another_dataset_and_accepts_a_moved_one(
    dataset, other_dataset, tmp_path, capsys, train_argv
):
    import shutil

    run = tmp_path / "run"
    assert main(train_argv(dataset, run, "--epochs", "1")) == 0
    capsys.readouterr()
    argv = ["train", "--resume", str(run), "--epochs", "2", "--data", str(other_dataset)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "holds another dataset than run" in err
    assert json.loads((run / "config.json").read_text())["data"] == str(dataset)
    moved = tmp_path / "moved"
    shutil.copytree(dataset, moved)
    assert main(["train", "--resume", str(run), "--epochs", "2", "--data", str(moved)]) == 0
    assert json.loads((run / "config.json").read_text())["data"] == str(moved)


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_7_files_follow_the_umask(dataset, tmp_path, umask, train_argv):
    old = os.umask(umask)
    try:
        run = tmp_path / "run"
        assert main(train_argv(dataset, run, "--epochs", "1")) == 0
        assert main(["evaluate", str(run), "--horizon", "4", "--plots", str(tmp_path / "p")]) == 0
    finally:
        os.umask(old)
    written = [run / name for name in ("config.json", "metrics.jsonl", "last.pt", "best.pt")]
    written += [run / "evaluation_test.json", *sorted((tmp_path / "p").glob("*.png"))]
    assert len(written) > 6
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
