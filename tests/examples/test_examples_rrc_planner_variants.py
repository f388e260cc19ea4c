"""examples/rrc_planner_variants.py on the shipped 60k-update RRC runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from mbplan.commands.plan import plan_episodes
from mbplan.evaluation.report import load_run_model
from planners.tasks import summarize_success

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "examples" / "checkpoints" / "rrc_60k"
SCRIPT = ROOT / "examples" / "rrc_planner_variants.py"


def test_every_run_is_planned_under_every_variant_on_the_same_episodes(tmp_path):
    grid = tmp_path / "grid"
    for name in ("gatel0rd_ss_s0", "lstm_ss_s0"):
        shutil.copytree(SHIPPED / name, grid / name)
    (grid / "report").mkdir()  # not a run folder: left alone
    (grid / "gru_ss_s0").mkdir()  # a run without a best checkpoint: left out
    command = [sys.executable, str(SCRIPT), str(grid), "--episodes", "2", "--seed", "1000"]
    command += ["--cores", "lstm", "--variants", "blitz", "mask_terminal"]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    results = json.loads((grid / "plan_variants.json").read_text())
    assert sorted(results) == ["blitz", "mask_terminal"]
    assert sorted(results["blitz"]) == sorted(results["mask_terminal"]) == ["lstm"]  # --cores
    assert all(len(rates) == 1 for by_core in results.values() for rates in by_core.values())
    # the blitz entry is the task-default MPC success on episodes 1000-1001
    model, _ = load_run_model(grid / "lstm_ss_s0", which="best", device="cpu")
    expected = summarize_success(
        plan_episodes("mbplan/RobotRemoteControl-v0", model, episodes=2, seed=1000)
    ).rate
    assert results["blitz"]["lstm"] == [expected]
    assert "blitz lstm:" in done.stdout
    wrong = subprocess.run(
        [*command[:-2], "wide"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert wrong.returncode != 0 and "unknown ['wide']" in wrong.stderr
