"""Planning from the command line and the library: ``--max-steps 0``, the warm-up action, ``-inf``
costs, and an env that returns NaN in the middle of an MPC batch (issue 12, case 8 and "weak")."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mbplan.cli import main
from planners import CEM, ICEM, MPPI
from planners.costs import RRCCost
from planners.mpc import run_mpc


def test_8_max_steps_zero_is_refused_not_the_env_default(capsys):
    from mbplan.commands.plan import plan_episodes

    with pytest.raises(SystemExit) as exit_info:
        main(["plan", "--ground-truth", "--episodes", "1", "--max-steps", "0"])
    assert exit_info.value.code == 2
    assert "--max-steps: expected an integer >= 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="max_steps: expected >= 1"):
        plan_episodes("mbplan/RobotRemoteControl-v0", None, episodes=1, max_steps=0)


class _NaNAfter:
    """Wrap an env so that it returns a NaN observation from step ``after`` on."""

    def __init__(self, env, after: int) -> None:
        self.env, self.after, self.steps = env, after, 0
        self.unwrapped = env.unwrapped

    def reset(self, **kwargs):
        self.steps = 0
        return self.env.reset(**kwargs)

    def step(self, action):
        self.steps += 1
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.steps >= self.after:
            obs = np.full_like(obs, np.nan)
        return obs, reward, terminated, truncated, info

    def render(self):
        return self.env.render()


def _rrc_model():
    from mbplan.models import make_world_model, preset

    with torch.random.fork_rng():
        torch.manual_seed(0)
        return make_world_model("gatel0rd", obs_dim=4, action_dim=2, **preset("rrc")).eval()


def _icem():
    return ICEM(
        [-1.0, -1.0],
        [1.0, 1.0],
        5,
        population=8,
        elites=3,
        iterations=1,
        generator=torch.Generator().manual_seed(0),
    )


def test_8_warm_up_action_outside_the_box_is_refused_for_env_and_model_alike():
    import gymnasium as gym

    import sims  # noqa: F401

    envs = [gym.make("mbplan/RobotRemoteControl-v0")]
    with pytest.raises(ValueError, match="warmup_action must lie in the action box"):
        run_mpc(
            envs,
            _rrc_model(),
            _icem(),
            RRCCost(),
            max_steps=4,
            warmup_action=np.array([2.0, 0.0], np.float32),
        )


def test_an_env_returning_nan_ends_only_its_own_episode(caplog):
    import gymnasium as gym

    import sims  # noqa: F401

    healthy = gym.make("mbplan/RobotRemoteControl-v0")
    broken = _NaNAfter(gym.make("mbplan/RobotRemoteControl-v0"), after=3)
    model = _rrc_model()
    results = run_mpc(
        [healthy, broken],
        model,
        _icem(),
        RRCCost(),
        max_steps=8,
        seeds=[0, 1],
        record_predictions=True,
    )
    assert len(results) == 2
    assert results[1].error is not None and "env 1 (seed 1)" in results[1].error
    assert "at step 3" in results[1].error and not results[1].success
    assert results[1].steps == 3
    assert results[0].error is None
    assert results[0].steps == 8 or results[0].success
    assert np.isfinite(results[0].observations).all()
    assert any("env 1 (seed 1)" in record.message for record in caplog.records)


@pytest.mark.parametrize("planner_class", [ICEM, CEM, MPPI])
def test_minus_infinity_is_a_valid_best_cost(planner_class):
    options = {"population": 6, "iterations": 1}
    if planner_class is not MPPI:
        options["elites"] = 2
    planner = planner_class([-1.0], [1.0], 3, generator=torch.Generator().manual_seed(0), **options)
    planner.reset(2)

    def cost_fn(actions):
        costs = actions.sum(dim=(2, 3)).clone()
        costs[0, 2] = -math.inf  # problem 0: candidate 2 is infinitely good
        return costs

    plan = planner.plan(cost_fn)
    assert torch.isfinite(plan).all()
    if planner_class is MPPI:  # all weight on the -inf candidate
        from planners.mppi import mppi_weights

        weights = mppi_weights(torch.tensor([[1.0, -math.inf, 0.0, -math.inf]]), 1.0)
        assert torch.allclose(weights, torch.tensor([[0.0, 0.5, 0.0, 0.5]]))
