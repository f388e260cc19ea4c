"""Task costs and success tests: hand-computed values, and agreement with the simulators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from planners import costs
from planners.costs import RRCCost, ShepherdCost, reduce_along_trajectory, task_cost_for


def test_rrc_cost_is_robot_distance_to_goal() -> None:
    obs = torch.tensor(
        [
            [0.0, 0.0, 0.5, -0.5],  # robot on the goal
            [0.3, 0.1, 0.5, 0.5],  # 1.0 above it; the agent does not matter
            [0.0, 0.0, -0.1, 0.3],  # (0.6, 0.8) away
        ]
    )
    torch.testing.assert_close(RRCCost().step_cost(obs), torch.tensor([0.0, 1.0, 1.0]))
    batched = RRCCost().step_cost(obs.expand(2, 5, 3, 4))
    assert batched.shape == (2, 5, 3)


def test_rrc_success_radius_is_1_5_times_the_goal_threshold() -> None:
    cost = RRCCost()
    assert cost.success_radius == pytest.approx(0.15)
    assert cost.is_success(np.array([0, 0, 0.5 + 0.149, -0.5], np.float32), {})
    assert not cost.is_success(np.array([0, 0, 0.5, -0.5 + 0.151], np.float32), {})


def shepherd_obs(cage_world, sheep_world, hidden=False) -> torch.Tensor:
    cage = [(cage_world[0] - 1) / 2, (cage_world[1] + 0.5) / 2]
    sheep = [0.0, 0.0] if hidden else [sheep_world[0] - 2, sheep_world[1]]
    return torch.tensor([0.1, 0.2, *cage, *sheep, 0.5])


def test_shepherd_cost_in_world_coordinates() -> None:
    cost = ShepherdCost()
    out = cost.step_cost(
        torch.stack(
            [
                shepherd_obs((2.0, -0.5), (2.3, -0.9)),  # out below -0.1: distance 0.5
                shepherd_obs((2.0, -0.5), (2.0, -0.5)),  # on the sheep: 0
                shepherd_obs((2.0, -0.5), (2.0, 0.3)),  # still above -0.1: 2 + 0.8, capped to 2
                shepherd_obs((1.0, -0.9), (0.0, 0.0), hidden=True),  # hidden: 2
                shepherd_obs((0.0, -0.5), (2.0, -0.5)),  # far but out: 2.0 (capped)
                shepherd_obs((2.0, -0.5), (2.0, -0.05)),  # y = -0.05 > -0.1: 2 + 0.45 -> 2
            ]
        )
    )
    torch.testing.assert_close(out, torch.tensor([0.5, 0.0, 2.0, 2.0, 2.0, 2.0]))


def test_shepherd_success_needs_the_catch_conditions_at_radius_0_12() -> None:
    cost = ShepherdCost()
    assert cost.success_radius == pytest.approx(0.12)
    near = shepherd_obs((2.0, -0.5), (2.11, -0.5)).numpy()
    ok = {"gate_open": True, "cage_carried": False, "sheep_caught": False}
    assert cost.is_success(near, ok)
    assert not cost.is_success(near, {**ok, "cage_carried": True})
    assert not cost.is_success(near, {**ok, "gate_open": False})
    far = shepherd_obs((2.0, -0.5), (2.13, -0.5)).numpy()
    assert not cost.is_success(far, ok)
    assert cost.is_success(far, {**ok, "sheep_caught": True})


def test_reductions_and_nan() -> None:
    steps = torch.tensor([[3.0, 1.0, 2.0], [1.0, math.nan, 0.0]])
    torch.testing.assert_close(reduce_along_trajectory(steps[:1], "sum"), torch.tensor([6.0]))
    torch.testing.assert_close(reduce_along_trajectory(steps[:1], "best"), torch.tensor([1.0]))
    torch.testing.assert_close(reduce_along_trajectory(steps, "final"), torch.tensor([2.0, 0.0]))
    assert math.isnan(float(reduce_along_trajectory(steps, "sum")[1]))
    assert math.isnan(float(reduce_along_trajectory(steps, "best")[1]))
    with pytest.raises(ValueError, match="how must be"):
        reduce_along_trajectory(steps, "mean")


def test_task_lookup_and_bad_observations() -> None:
    assert isinstance(task_cost_for("mbplan/RobotRemoteControl-v0"), RRCCost)
    assert isinstance(task_cost_for("mbplan/Shepherd-v0"), ShepherdCost)
    with pytest.raises(ValueError, match="no planning task for env 'mbplan/BilliardBall-v0'"):
        task_cost_for("mbplan/BilliardBall-v0")
    with pytest.raises(ValueError, match=r"obs_dim >= 4.*\(3, 2\)"):
        RRCCost().step_cost(torch.zeros(3, 2))


def test_constants_agree_with_the_simulators() -> None:
    rrc = pytest.importorskip("sims.remote_control")
    shepherd = pytest.importorskip("sims.shepherd")
    assert costs.RRC_GOAL_OBS == tuple(rrc.ROBOT_NORMALIZATION.world_to_obs(rrc.GOAL_POSITION))
    assert costs.RRC_GOAL_THRESHOLD == rrc.GOAL_THRESHOLD
    assert costs.SHEPHERD_CATCH_THRESHOLD == shepherd.CAGE_THRESHOLD
    assert costs.SHEPHERD_POS_OFFSET == shepherd.FIELD_NORMALIZATION.offset
    assert (costs.SHEPHERD_POS_SCALE,) * 2 == shepherd.FIELD_NORMALIZATION.scale
    assert costs.SHEPHERD_SHEEP_X_OFFSET == shepherd.SHEEP_NORMALIZATION.offset[0]
    assert costs.SHEPHERD_CAGE_SLICE == shepherd.OBS_CAGE
    assert costs.SHEPHERD_SHEEP_SLICE == shepherd.OBS_SHEEP
