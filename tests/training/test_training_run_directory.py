"""Finding the trained runs of a grid folder by their config, on copies of the shipped RRC runs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mbplan.training.run_directory import trained_runs

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "rrc_60k"


@pytest.fixture
def grid(tmp_path):
    """Three shipped runs, one renamed by hand with its seed edited to 10, plus two non-runs."""
    for name in ("gatel0rd_ss_s0", "lstm_ss_s0"):
        shutil.copytree(SHIPPED / name, tmp_path / name)
    renamed = tmp_path / "my_best_gatel0rd"
    shutil.copytree(SHIPPED / "gatel0rd_ss_s0", renamed)
    config = json.loads((renamed / "config.json").read_text())
    (renamed / "config.json").write_text(json.dumps({**config, "seed": 10}))
    (tmp_path / "report").mkdir()  # not a run
    shutil.copytree(SHIPPED / "gru_ss_s0", tmp_path / "gru_ss_s0")
    (tmp_path / "gru_ss_s0" / "best.pt").unlink()  # a run without a best checkpoint yet
    return tmp_path


def test_runs_are_found_by_their_config_and_sorted_by_core_and_seed(grid):
    assert trained_runs(grid) == [
        ("gatel0rd", 0, grid / "gatel0rd_ss_s0"),
        ("gatel0rd", 10, grid / "my_best_gatel0rd"),  # found though its name says nothing
        ("lstm", 0, grid / "lstm_ss_s0"),
    ]


def test_a_pattern_and_cores_narrow_the_runs(grid):
    assert trained_runs(grid, "*_ss_s0") == [
        ("gatel0rd", 0, grid / "gatel0rd_ss_s0"),
        ("lstm", 0, grid / "lstm_ss_s0"),
    ]
    assert trained_runs(grid, cores=["lstm"]) == [("lstm", 0, grid / "lstm_ss_s0")]
    assert trained_runs(grid, cores=["elman"]) == []


def test_a_broken_config_is_named_and_a_missing_grid_is_an_error(grid):
    (grid / "lstm_ss_s0" / "config.json").write_text('{"core": "lstm", "se')
    with pytest.raises(ValueError, match=r"lstm_ss_s0/config.json is not valid JSON"):
        trained_runs(grid)
    with pytest.raises(FileNotFoundError, match="no folder"):
        trained_runs(grid / "absent")
