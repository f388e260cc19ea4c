"""``mbplan generate`` and ``mbplan data info`` through the command-line entry point."""

from __future__ import annotations

import pytest
from test_data_toyenv import TOY_ID

from mbplan.cli import main
from mbplan.data.io import read_manifest


def test_generate_generic_form_then_info(tmp_path, capsys):
    out = tmp_path / "toy"
    argv = ["generate", "--env", TOY_ID, "--policy", "uniform", "--episodes", "12"]
    argv += ["--steps", "8", "--out", str(out), "--seed", "3", "--quiet"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "episodes" in printed and "100.00%" in printed and "env steps/s per worker" in printed
    manifest = read_manifest(out)
    assert manifest["seed"] == 3 and manifest["subsets"][0]["count"] == 12 and manifest["complete"]

    assert main(argv) == 0
    assert "already complete, nothing to do" in capsys.readouterr().out

    assert main(["data", "info", str(out)]) == 0
    info = capsys.readouterr().out
    assert "(complete)" in info and TOY_ID in info
    assert "observations (9, 2), actions (8, 2), flags (9, 2)" in info
    assert "train 10, val 1, test 1 (random, seed 42)" in info
    assert "action[1]" in info and "in_zone" in info and "set in" in info


def test_generate_refuses_another_dataset_and_reports_errors(tmp_path, capsys):
    out = tmp_path / "toy"
    base = ["generate", "--env", TOY_ID, "--policy", "uniform", "--steps", "4", "--quiet"]
    assert main([*base, "--episodes", "3", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main([*base, "--episodes", "4", "--out", str(out)]) == 2
    assert "holds a different dataset" in capsys.readouterr().err
    assert main([*base, "--episodes", "4", "--out", str(out), "--overwrite"]) == 0
    capsys.readouterr()
    assert main(["generate", "chess-paper", "--out", str(tmp_path / "x")]) == 2
    assert "recipe: expected one of" in capsys.readouterr().err
    assert (
        main([*base, "--episodes", "3", "--out", str(tmp_path / "y"), "--env-kwargs", "[1]"]) == 2
    )
    assert "--env-kwargs: expected a JSON object" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "rrc-paper", "--env", TOY_ID, "--out", str(tmp_path / "z")])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["generate", "--env", TOY_ID, "--out", str(tmp_path / "z")])  # incomplete generic form


def test_data_info_on_a_broken_directory(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path)]) == 2
    assert "not an mbplan dataset directory" in capsys.readouterr().err
