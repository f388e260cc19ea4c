"""``mbplan plan`` knobs: reduction, iCEM switches, MPPI temperature, warm-up action, NaN check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

pytest.importorskip("sims")

from mbplan.commands import plan  # noqa: E402

SMALL = ["--episodes", "2", "--max-steps", "6", "--horizon", "5", "--population", "10"]


def test_help_lists_the_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        plan.main(["--help"])
    text = capsys.readouterr().out
    for flag in (
        "--reduction",
        "--population-decay",
        "--elite-reuse-fraction",
        "--no-keep-previous-elites",
        "--no-shift-elites",
        "--no-mean-as-sample",
        "--temperature",
        "--warmup-action",
        "--nan-check",
        "--fixed-shape",
    ):
        assert flag in text, flag


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--planner", "cem", "--population-decay", "1.5"], "not an option of --planner cem"),
        (["--planner", "icem", "--temperature", "2"], "not an option of --planner icem"),
        (["--planner", "mppi", "--temperature", "0"], "--temperature must lie in (0.0, inf]"),
        (["--population-decay", "0.5"], "--population-decay must lie in [1.0, inf]"),
        (["--elite-reuse-fraction", "1.5"], "--elite-reuse-fraction must lie in [0.0, 1.0]"),
        (["--warmup-action", "0,x"], "expected comma-separated numbers"),
        (["--warmup-action", "0,0,1"], "has 2 action dimensions, got 3"),
        (["--warmup-action", "0,5"], "outside the action box"),
    ],
)
def test_bad_knobs_are_user_errors(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from mbplan.cli import main

    assert main(["plan", "--ground-truth", *SMALL, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.startswith("mbplan plan: ")


def test_knobs_reach_the_planner_and_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import planners

    seen = {}
    real_run = planners.run_mpc

    def spy(envs, model, planner, task, **kwargs):
        seen.update(planner=planner, **kwargs)
        return real_run(envs, model, planner, task, **kwargs)

    monkeypatch.setattr(planners, "run_mpc", spy)
    out = tmp_path / "p.json"
    argv = [
        "--ground-truth",
        *SMALL,
        "--reduction",
        "final",
        "--population-decay",
        "2",
        "--elite-reuse-fraction",
        "0.5",
        "--no-shift-elites",
        "--no-mean-as-sample",
        "--warmup-action",
        "0.5,-0.5",
        "--fixed-shape",
        "--json",
        str(out),
    ]
    assert plan.main(argv) == 0
    planner = seen["planner"]
    assert planner.population_decay == 2.0 and planner.elite_reuse_fraction == 0.5
    assert not planner.shift_elites and not planner.mean_as_sample
    assert planner.keep_previous_elites and planner.fixed_shape
    assert seen["reduction"] == "final" and seen["warmup_action"] == (0.5, -0.5)
    assert seen["rollout_kwargs"] is None  # the simulator has no NaN check
    summary = json.loads(out.read_text())
    assert summary["reduction"] == "final" and summary["fixed_shape"] is True
    assert summary["planner_options"]["population_decay"] == 2.0


def test_nan_check_is_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    import planners
    from mbplan.models import make_world_model, preset

    seen = []
    real_run = planners.run_mpc
    monkeypatch.setattr(
        planners,
        "run_mpc",
        lambda *a, **kw: (seen.append(kw["rollout_kwargs"]), real_run(*a, **kw))[1],
    )
    torch.manual_seed(0)
    options = preset("rrc")
    options["hidden_size"] = 8
    model = make_world_model("gatel0rd", 4, 2, **options).eval()
    small = {"horizon": 5, "population": 10, "elites": 4}
    for nan_check in (False, True):
        plan.plan_episodes(
            "mbplan/RobotRemoteControl-v0",
            model,
            episodes=1,
            max_steps=3,
            planner_options=small,
            nan_check=nan_check,
        )
    assert seen == [{"check_nan": False}, {"check_nan": True}]
