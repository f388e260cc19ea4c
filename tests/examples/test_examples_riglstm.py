"""The RigLSTM benchmark tasks: the copying protocol, the digit resizing, the script end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch

FOLDER = Path(__file__).resolve().parents[2] / "examples" / "riglstm"
sys.path.insert(0, str(FOLDER))

import run  # noqa: E402
from tasks import build_core, copying_batch, digit_sequences, digits_task  # noqa: E402


def test_copying_batch_follows_the_rims_protocol():
    inputs, targets = copying_batch(np.random.default_rng(0), 5, dormant=7)
    assert inputs.shape == targets.shape == (5, 27)  # T + 20
    symbols = inputs[:, :10]
    assert ((symbols >= 1) & (symbols <= 8)).all()
    assert (inputs[:, 10:16] == 0).all()  # T - 1 = 6 blanks
    assert (inputs[:, 16] == 9).all()  # the marker
    assert (inputs[:, 17:] == 0).all()  # 10 blanks while the symbols are recalled
    assert (targets[:, :17] == 0).all()  # T + 10 blank targets
    assert torch.equal(targets[:, 17:], symbols)


def test_digits_are_binarised_and_resized_by_nearest_neighbour():
    image = np.arange(64, dtype=np.float64).reshape(1, 8, 8) % 17  # values 0..16
    binary = (image >= 8).astype(np.int64)
    assert torch.equal(digit_sequences(image, 8), torch.from_numpy(binary).flatten(1))
    doubled = digit_sequences(image, 16).view(16, 16)
    assert torch.equal(doubled[::2, ::2], torch.from_numpy(binary[0]))
    assert torch.equal(doubled[1::2, 1::2], doubled[::2, ::2])


def test_variants_compare_equal_numbers_of_units():
    lstm, rim = build_core("lstm", 16, 8), build_core("rim", 16, 8)
    assert lstm.output_size == rim.output_size == build_core("rims", 16, 8).output_size == 48
    cell = rim.cells[0]
    assert not cell.soft_update and not cell.input_selection
    assert cell.cell_selection and cell.hidden_selection


def test_the_script_trains_resumes_and_reports(tmp_path, monkeypatch, capsys):
    out, docs = tmp_path / "run", tmp_path / "docs"
    argv = ["run.py", "--task", "copying", "--updates", "2", "--log-every", "1", "--seeds", "0"]
    argv += ["--variants", "lstm", "riglstm", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    run.main()
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["variant"], len(r["curve"])) for r in runs] == [("lstm", 2), ("riglstm", 2)]
    assert set(runs[0]["test"]) == {"T=10", "T=25", "T=50", "T=100"}
    capsys.readouterr()
    run.main()
    assert "update" not in capsys.readouterr().out  # finished runs are skipped
    monkeypatch.setattr(
        sys, "argv", [*argv[:3], "--out", str(out), "--report", "--docs", str(docs)]
    )
    run.main()
    table = json.loads((docs / "riglstm.json").read_text())["copying"]
    accuracy = table["variants"]["riglstm"]["copy_accuracy"]["T=100"]["mean"]
    assert 0.0 <= accuracy <= 1.0 and (docs / "riglstm_copying.png").exists()


def test_best_by_validation_picks_per_label_and_direction():
    rows = [
        {
            "update": 10,
            "val": {"a": {"accuracy": 0.5}, "b": {"accuracy": 0.9}},
            "test": {"a": {"accuracy": 0.4}, "b": {"accuracy": 0.8}},
        },
        {
            "update": 20,
            "val": {"a": {"accuracy": 0.7}, "b": {"accuracy": 0.9}},
            "test": {"a": {"accuracy": 0.6}, "b": {"accuracy": 0.1}},
        },
    ]
    chosen = run.best_by_validation(rows, "accuracy")
    assert chosen["a"] == {"accuracy": 0.6, "update": 20, "val_accuracy": 0.7}
    assert chosen["b"]["update"] == 10 and chosen["b"]["accuracy"] == 0.8  # first of a tie
    bce = [
        {"update": u, "val": {"x": {"bce": v}}, "test": {"x": {"bce": v + 1}}}
        for u, v in ((1, 0.3), (2, 0.2), (3, 0.4))
    ]
    assert run.best_by_validation(bce, "bce")["x"]["update"] == 2  # lower is better


def test_digits_hold_out_a_fifth_of_the_training_images_as_validation():
    next_batch, test, validation = digits_task().make_data(np.random.default_rng(0))
    assert set(test) == set(validation) == {"8x8", "10x10", "12x12", "16x16"}
    assert test["8x8"][0].shape == (500, 64) and validation["16x16"][0].shape == (259, 256)
    rows = {tuple(row.tolist()) for row in validation["8x8"][0]}
    drawn = next_batch(np.random.default_rng(1), 4000)[0]
    # training batches come from the other 1038 images only (no validation image among them,
    # up to images that are pixel-identical after binarisation)
    train_rows = {tuple(row.tolist()) for row in drawn}
    assert len(train_rows - rows) > 0.8 * len(train_rows)


def test_the_script_evaluates_during_training_and_reports_the_best_validation(
    tmp_path, monkeypatch, capsys
):
    out, docs = tmp_path / "run", tmp_path / "docs"
    argv = ["run.py", "--task", "digits", "--updates", "4", "--eval-every", "2", "--seeds", "0"]
    argv += ["--variants", "lstm", "--out", str(out), "--cell-hidden", "2", "--log-every", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    run.main()
    (result,) = json.loads((out / "results.json").read_text())["runs"]
    assert [row["update"] for row in result["evaluations"]] == [2, 4]
    assert result["test"] == result["evaluations"][-1]["test"]
    for label, chosen in result["test_at_best_val"].items():
        row = next(r for r in result["evaluations"] if r["update"] == chosen["update"])
        assert chosen["accuracy"] == row["test"][label]["accuracy"]
        assert chosen["val_accuracy"] == max(
            r["val"][label]["accuracy"] for r in result["evaluations"]
        )
    other = [*argv[:-6], "--variants", "gru", "--out", str(tmp_path / "other"), *argv[-4:]]
    monkeypatch.setattr(sys, "argv", other)
    run.main()  # the same grid's GRU, trained by "another process"
    report = [*argv[:3], "--out", str(out), "--report", "--docs", str(docs), "--table", "d2"]
    monkeypatch.setattr(sys, "argv", [*report, "--also", str(tmp_path / "other")])
    run.main()
    table = json.loads((docs / "riglstm.json").read_text())["d2"]
    assert table["task"] == "digits" and set(table["variants"]) == {"lstm", "gru"}
    assert table["variants"]["lstm"]["accuracy_at_best_val"]["16x16"]["updates"] in ([2], [4])
    assert (docs / "riglstm_d2.png").exists() and (docs / "riglstm_d2_curves.png").exists()
