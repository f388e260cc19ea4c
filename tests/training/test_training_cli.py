"""``mbplan train / evaluate / compare`` end to end on a tiny generated Billiard Ball dataset."""

from __future__ import annotations

import json

import pytest

from mbplan.cli import main

SMALL = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from mbplan.data import generate, generic_spec

    root = tmp_path_factory.mktemp("data") / "bb"
    generate(generic_spec("mbplan/BilliardBall-v0", "uniform", episodes=20, steps=12), root)
    return root


def test_train_resume_evaluate_end_to_end(dataset, tmp_path, capsys):
    run = tmp_path / "run"
    argv = ["train", "--preset", "tiny", "--core", "gatel0rd", "--regime", "ss"]
    argv += ["--data", str(dataset), "--out", str(run), "--epochs", "2", *SMALL]
    assert main(argv) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["regime"] == "ss" and config["model"]["hidden_size"] == 4
    assert config["lr"] == 5e-4  # the paper's GateL0RD rate for billiard under scheduled sampling
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]

    assert main(["train", "--resume", str(run), "--epochs", "3", "--no-progress"]) == 0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2, 3]

    plots = tmp_path / "plots"
    argv = ["evaluate", str(run), "--data", str(dataset), "--horizon", "8", "--plots", str(plots)]
    assert main(argv) == 0
    results = json.loads((run / "evaluation_test.json").read_text())
    assert results["horizon"] == 8 and len(results["mse_per_step"]) == 8
    assert results["gates"] is not None and 0.0 <= results["gates"]["gate_rate"] <= 1.0
    assert {"episodes"} == set(results["subsets"])
    names = {path.name for path in plots.iterdir()}
    assert {"step_errors.png", "learning_curve.png"} <= names
    assert any(name.endswith("_plane.png") for name in names)
    assert any(name.endswith("_latents.png") for name in names)
    assert "8-step MSE" in capsys.readouterr().out


def test_compare_trains_several_cores_and_writes_one_table(dataset, tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", "--preset", "tiny", "--data", str(dataset), "--out", str(out)]
    argv += ["--cores", "gatel0rd", "gru", "--regimes", "tf", "--seeds", "0", "1", *SMALL]
    assert main(argv) == 0
    table = (out / "comparison.md").read_text()
    assert "| gatel0rd | teacher forcing | 2 |" in table
    assert "| gru | teacher forcing | 2 |" in table
    assert (out / "step_errors.png").stat().st_size > 0
    summary = json.loads((out / "comparison.json").read_text())
    assert [row["label"] for row in summary["rows"]] == ["gatel0rd (tf)", "gru (tf)"]
    # a second call finds every run finished and only re-evaluates
    before = (out / "gru_tf_s1" / "last.pt").stat().st_mtime_ns
    assert main(argv) == 0
    assert (out / "gru_tf_s1" / "last.pt").stat().st_mtime_ns == before


def test_train_requires_data_and_out(capsys):
    assert main(["train", "--preset", "tiny"]) == 2
    assert "--data and --out" in capsys.readouterr().err
