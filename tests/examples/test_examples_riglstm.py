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
from tasks import build_core, copying_batch, digit_sequences  # noqa: E402


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
    assert lstm.output_size == rim.output_size == 48
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
