"""``mbplan sweep`` end to end on a tiny real dataset: the table's rows, resuming, bad grids."""

from __future__ import annotations

import csv
import json

import torch
from test_cli_errors import one_line

from mbplan.cli import main
from mbplan.training.checkpoint import load_checkpoint
from mbplan.training.run_directory import RunDirectory

SMALL = ["--model.hidden-size", "4", "--model.feature-size", "8", "--model.depth", "1"]


def sweep_argv(dataset, out, *extra):
    base = ["sweep", "--preset", "tiny", "--data", str(dataset), "--out", str(out), *SMALL]
    return [*base, "--core", "gru", "--epochs", "2", *extra]


def test_sweep_trains_every_point_and_writes_one_table(dataset, tmp_path, capsys):
    out = tmp_path / "sw"
    argv = sweep_argv(dataset, out, "--grid", "lr=1e-3,1e-2", "seed=0:2")
    assert main(argv) == 0
    capsys.readouterr()
    names = [f"lr={lr},seed={seed}" for lr in ("0.001", "0.01") for seed in (0, 1)]
    table = json.loads((out / "sweep.json").read_text())
    assert table["fields"] == ["lr", "seed"]
    rows = table["rows"]
    assert [row["run"] for row in rows] == names
    assert [(row["lr"], row["seed"]) for row in rows] == [
        (1e-3, 0),
        (1e-3, 1),
        (1e-2, 0),
        (1e-2, 1),
    ]
    for row in rows:
        run = RunDirectory(out / row["run"])
        config = run.read_config()
        assert (config["lr"], config["seed"]) == (row["lr"], row["seed"])
        metrics = run.read_metrics()
        best = min(metrics, key=lambda m: m["val_mse"])
        assert row["best_val_mse"] == best["val_mse"] and row["best_epoch"] == best["epoch"]
        assert row["final_val_mse"] == metrics[-1]["val_mse"]
        assert row["epochs"] == 2 and row["status"] == "done"
        evaluation = json.loads((out / row["run"] / "evaluation_test.json").read_text())
        assert row["n_step_mse"] == evaluation["mse"] and row["horizon"] == evaluation["horizon"]
        assert evaluation["run"]["checkpoint"] == "best" and row["horizon"] == 12  # whole window
    assert len({row["best_val_mse"] for row in rows}) == 4  # four distinct runs
    markdown = (out / "sweep.md").read_text().splitlines()
    assert markdown[0] == (
        "| run | lr | seed | best_val_mse | best_epoch | final_val_mse | epochs | status "
        "| n_step_mse | horizon |"
    )
    assert len(markdown) == 2 + 4 and markdown[2].startswith("| lr=0.001,seed=0 | 0.001 | 0 |")
    csv_rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [r["run"] for r in csv_rows] == names
    assert [float(r["n_step_mse"]) for r in csv_rows] == [row["n_step_mse"] for row in rows]

    # the same command again skips every finished run: nothing is retrained
    stamps = {name: (out / name / "last.pt").stat().st_mtime_ns for name in names}
    assert main(argv) == 0
    assert {name: (out / name / "last.pt").stat().st_mtime_ns for name in names} == stamps
    # more epochs resume the runs, alone and as resumed members of one group
    assert main([*argv, "--epochs", "3", "--group-size", "1"]) == 0
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [row["epochs"] for row in rows] == [3, 3, 3, 3]
    assert main([*argv, "--epochs", "4", "--group-size", "4"]) == 0
    rows = json.loads((out / "sweep.json").read_text())["rows"]
    assert [row["epochs"] for row in rows] == [4, 4, 4, 4]


def test_a_grid_point_equals_the_same_run_trained_alone(dataset, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(sweep_argv(dataset, out, "--grid", "seed=0:2", "--group-size", "2")) == 0
    solo = tmp_path / "solo"
    train = ["train", *sweep_argv(dataset, solo, "--seed", "1")[1:]]
    assert main(train) == 0
    grouped = load_checkpoint(out / "seed=1" / "last.pt")["model"]
    alone = load_checkpoint(solo / "last.pt")["model"]
    assert grouped.keys() == alone.keys()
    for key in alone:
        torch.testing.assert_close(grouped[key], alone[key], rtol=1e-4, atol=1e-6)


def test_bad_grids_are_named_before_anything_runs(dataset, tmp_path, capsys):
    out = tmp_path / "sw"
    for grid, message in [
        (["sed=0:2"], "--grid sed: unknown field (did you mean seed?)"),
        (["model.hidden-size=4,x"], "model.hidden_size=4,x: expected an integer, got 'x'"),
        (["seed=2:2"], "the range 2:2 is empty"),
        (["seed=0", "seed=1"], "--grid seed: given twice"),
        (["ss_floor=0.5,3"], "ss_floor: expected a value in [0, 1]"),
        (["model.hidden-size=0"], "model.hidden_size=0: hidden_size"),
    ]:
        assert main(sweep_argv(dataset, out, "--grid", *grid)) == 2
        assert message in one_line(capsys, "sweep"), grid
    assert not out.exists()  # nothing ran


def test_a_folder_with_other_settings_is_refused_naming_the_field(dataset, tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(sweep_argv(dataset, out, "--grid", "seed=0")) == 0
    capsys.readouterr()
    stamp = (out / "seed=0" / "last.pt").stat().st_mtime_ns
    assert main(sweep_argv(dataset, out, "--grid", "seed=0", "--lr", "0.05")) == 2
    assert "lr: run has" in one_line(capsys, "sweep")
    assert (out / "seed=0" / "last.pt").stat().st_mtime_ns == stamp
