"""examples/planning_grid_report.py on the shipped RRC runs: one row per run, resumable."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "examples" / "checkpoints" / "rrc_60k"


def test_the_report_measures_every_run_and_resumes(tmp_path):
    grid = tmp_path / "grid"
    for name in ("gatel0rd_ss_s0", "lstm_ss_s0"):
        shutil.copytree(SHIPPED / name, grid / name)
    out = tmp_path / "report"
    command = [sys.executable, str(ROOT / "examples" / "planning_grid_report.py"), str(grid)]
    command += ["--episodes", "3", "--out", str(out)]
    # --runs: one run first (as while the others still train), then the rest into the same report
    subprocess.run([*command, "--runs", "gatel0rd_*"], check=True, capture_output=True, cwd=ROOT)
    first = json.loads((out / "planning_grid.json").read_text())
    assert [Path(r["run"]).name for r in first["runs"]] == ["gatel0rd_ss_s0"]
    rest = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    assert "lstm_ss_s0: measuring" in rest.stdout and "gatel0rd_ss_s0: measuring" not in rest.stdout
    report = json.loads((out / "planning_grid.json").read_text())
    rows = {Path(r["run"]).name: r for r in report["runs"]}
    assert sorted(rows) == ["gatel0rd_ss_s0", "lstm_ss_s0"]
    for row in rows.values():
        assert len(row["mpc"]["per_episode"]) == 3
        assert 0.0 <= row["onset_response"] <= 2.0 and row["false_motion"] >= 0.0
        assert row["mpc"]["successes"] == sum(row["mpc"]["per_episode"])
        assert row["updates"] == 60_000 and row["test_mse"] < 0.001
    assert report["ground_truth"]["rate"] == 1.0
    assert "| gatel0rd | 0 | 60000 |" in (out / "planning_grid.md").read_text()
    assert (out / "planning_grid.png").stat().st_size > 10_000
    # resumed: nothing is measured again
    again = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    assert "measuring" not in again.stdout
