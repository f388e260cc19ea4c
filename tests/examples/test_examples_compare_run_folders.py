"""examples/compare_run_folders.py: one comparison of run folders from different places."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "examples" / "checkpoints"
SCRIPT = ROOT / "examples" / "compare_run_folders.py"


def test_runs_of_two_grids_are_compared_per_split(tmp_path):
    runs = [SHIPPED / "rrc_60k" / "lstm_ss_s0", SHIPPED / "rrc_60k" / "gatel0rd_ss_s0"]
    out = tmp_path / "out"
    command = [sys.executable, str(SCRIPT), *map(str, runs), "--out", str(out)]
    command += ["--splits", "test", "generalization_test", "--prefix", "four_"]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    for split in ("test", "generalization_test"):
        table = json.loads((out / f"four_{split}_comparison.json").read_text())
        # grouped by core in the order given, each with its run's recorded N-step error
        assert [row["core"] for row in table["rows"]] == ["lstm", "gatel0rd"]
        for row, run in zip(table["rows"], runs, strict=True):
            recorded = json.loads((run / f"evaluation_{split}.json").read_text())["mse"]
            assert row["mse"] == recorded and row["seeds"] == [0]
        # the learning curves come from the folders given, not from where the runs were trained
        assert (out / f"four_{split}_learning_curves.png").stat().st_size > 10_000
        assert (out / f"four_{split}_step_errors.png").stat().st_size > 10_000
    bare = tmp_path / "bare"
    shutil.copytree(runs[0], bare)
    (bare / "evaluation_test.json").unlink()
    wrong = subprocess.run(
        [sys.executable, str(SCRIPT), str(bare), "--out", str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert wrong.returncode != 0 and f"no evaluation_test.json in: {bare}" in wrong.stderr
