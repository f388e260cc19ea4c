"""Shepherd planning: task defaults, the success test on the real env, warm-up, ground-truth MPC.

The ground-truth test plans with the simulator as the model at the task defaults
(:mod:`planners.tasks`: horizon 60, start right, iCEM blitz otherwise) on two seeded episodes
(env seeds 1 and 2, planner seed 1);
``mbplan plan --ground-truth --env mbplan/Shepherd-v0 --episodes 20`` gives the full rate
(recorded in ``docs/results/shepherd.md``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("sims")

from planners import ShepherdCost, planning_task, summarize_success  # noqa: E402
from sims.shepherd import LEVER_POSITION, OBS_SHEEP, SHEEP_PARK_Y, ShepherdEnv  # noqa: E402

ENV_ID = "mbplan/Shepherd-v0"


def test_shepherd_task_defaults_and_explicit_options_win() -> None:
    task = planning_task(ENV_ID)
    assert dict(task.reset_options) == {"start": "right"}
    assert task.planner_options({}) == {"horizon": 60}
    assert task.planner_options({"horizon": 20, "population": None}) == {"horizon": 20}
    assert task.warmup_action == (0.0, 0.0, 1.0)  # hold the cage (a[2] > 0)
    assert planning_task("mbplan/RobotRemoteControl-v0").planner_options({"alpha": 0.2}) == {
        "alpha": 0.2
    }
    with pytest.raises(ValueError, match="no planning task"):
        planning_task("mbplan/BilliardBall-v0")


def test_hidden_sheep_placeholder_is_not_a_success_on_the_gate_opening_step() -> None:
    # the true sheep waits hidden at x = 1.6; the cage lies 0.11 below the placeholder position
    # (2, 0) of a hidden sheep, i.e. within the success radius 0.12 of it; the agent opens the
    # gate in this step, and the sheep is still observed as (0, 0)
    env = ShepherdEnv()
    env.reset(seed=0)
    lx, ly = LEVER_POSITION
    state = np.array(
        [lx, ly - 0.25, 0, 0, 2.0, -0.11, 0, 0, 1.6, SHEEP_PARK_Y, 0, 0, 0, 0, 0, 1, 0.5, 0]
    )
    env.set_state(state)
    obs, _, _, _, info = env.step(np.array([0.0, 1.0, -1.0], np.float32))
    assert info["gate_open"] and not info["cage_carried"] and not info["sheep_caught"]
    assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]
    cost = ShepherdCost()
    assert not cost.is_success(obs, info)
    # visible and within the radius (not yet caught by the env's 0.1): a success
    visible = obs.copy()
    visible[OBS_SHEEP] = (0.0, -0.01)  # world (2, -0.01): 0.1 from the cage
    assert cost.is_success(visible, info)


def test_warm_up_holds_the_cage_and_results_count_solved_at_reset_apart() -> None:
    from mbplan.commands.plan import plan_episodes
    from mbplan.models import make_world_model, preset

    torch.manual_seed(0)
    model = make_world_model("gatel0rd", obs_dim=7, action_dim=3, **preset("shepherd")).eval()
    results = plan_episodes(
        ENV_ID,
        model,
        episodes=1,
        max_steps=model.k + 1,
        planner_options={"population": 8, "elites": 2, "horizon": 4},
    )
    warm = results[0].actions[: model.k]
    assert model.k == 2 and warm.tolist() == [[0.0, 0.0, 1.0]] * 2
    # the cage was still carried after the warm-up: in the first planned step it moved with the
    # agent (the box midpoint, a[2] = 0, would have dropped it)
    obs, k = results[0].observations, model.k
    agent_move, cage_move = obs[k + 1, 0:2] - obs[k, 0:2], obs[k + 1, 2:4] - obs[k, 2:4]
    assert np.linalg.norm(agent_move) > 1e-3
    np.testing.assert_allclose(cage_move, agent_move, atol=1e-6)
    summary = summarize_success(results)
    assert (summary.episodes, summary.solved_at_reset) == (1, 0)


def test_ground_truth_mpc_catches_the_sheep_at_the_task_defaults() -> None:
    from mbplan.commands.plan import plan_episodes

    torch.set_num_threads(1)
    results = plan_episodes(ENV_ID, None, episodes=2, seed=1)
    assert [r.success for r in results] == [True, True]
    assert all(0 < r.success_step <= 80 for r in results)
