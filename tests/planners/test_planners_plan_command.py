"""``mbplan plan``: ground truth and a run's model, GIF and JSON outputs, bad arguments.

Smoke-level planner settings (population 10, horizon 5, 6 steps) keep it fast; the success rate of
the ground-truth planner is checked in test_planners_rrc.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("sims")

from mbplan.commands import plan  # noqa: E402

SMALL = [
    "--episodes",
    "2",
    "--max-steps",
    "6",
    "--horizon",
    "5",
    "--population",
    "10",
    "--elites",
    "4",
]


def test_ground_truth_writes_gif_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    gif, out = tmp_path / "episode.gif", tmp_path / "plan.json"
    code = plan.main(["--ground-truth", *SMALL, "--gif", str(gif), "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "success rate" in printed and "episode   1 (seed 1)" in printed
    summary = json.loads(out.read_text())
    assert summary["episodes"] == 2 and summary["model"] == "ground-truth"
    assert [row["seed"] for row in summary["per_episode"]] == [0, 1]
    assert all(row["steps"] <= 6 for row in summary["per_episode"])
    assert summary["planner_options"]["population"] == 10
    with Image.open(gif) as image:
        assert image.n_frames == summary["per_episode"][0]["steps"] + 1


def test_run_model_plans_with_warm_up(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mbplan.models import make_world_model, preset
    from mbplan.training.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = make_world_model("gatel0rd", obs_dim=4, action_dim=2, **preset("rrc"))
    payload = {
        "model": model.state_dict(),
        "model_hparams": model.hparams,
        "epoch": 0,
        "config": {},
    }
    save_checkpoint(tmp_path / "best.pt", payload)
    code = plan.main(["--run", str(tmp_path), *SMALL, "--json", str(tmp_path / "p.json")])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((tmp_path / "p.json").read_text())
    assert summary["model"] == str(tmp_path)
    assert summary["episodes"] == 2

    results = plan.plan_episodes(
        "mbplan/RobotRemoteControl-v0",
        model.eval(),
        episodes=1,
        max_steps=4,
        planner_options={"horizon": 5, "population": 10, "elites": 4},
        record=True,
    )
    assert results[0].warmup_steps == model.k == 1
    assert results[0].predictions.shape == (results[0].steps - 1, 5, 4)
    assert results[0].model_states.shape[1] == model.state_size


def test_bad_arguments_exit_with_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from mbplan.cli import main

    argv = ["plan", "--ground-truth", "--env", "mbplan/BilliardBall-v0", "--episodes", "1"]
    assert main(argv) == 2
    assert "no planning task" in capsys.readouterr().err
    assert main(["plan", "--run", str(tmp_path / "missing"), "--episodes", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # refused by the parser, before any work
        main(["plan", "--ground-truth", "--episodes", "0"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        plan.main(["--episodes", "1"])  # neither --run nor --ground-truth
    with pytest.raises(ValueError, match="does not take"):
        plan.make_planner("mppi", [-1.0], [1.0], seed=0, elites=3)
