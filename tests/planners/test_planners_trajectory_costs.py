"""Costs on actions and latent states, and masking after a predicted termination.

On the real RRC env and the shipped GateL0RD world model (examples/checkpoints/rrc_20k).
"""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import sims  # noqa: F401  (registers the envs)
from mbplan.cli import main
from mbplan.evaluation.report import load_run_model
from planners import (
    ICEM,
    ActionPenalty,
    ActionSmoothness,
    CostWithTerms,
    GroundTruthModel,
    LatentGoal,
    MPCAgent,
    RRCCost,
    ShepherdCost,
    alive_steps,
    make_objective,
    reduce_along_trajectory,
)

RUN = (
    Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "rrc_20k" / "gatel0rd_ss_s0"
)
RRC = "mbplan/RobotRemoteControl-v0"


@pytest.fixture(scope="module")
def model():
    loaded, _ = load_run_model(RUN, which="best", device="cpu")
    return loaded.eval()


def _scripted_rrc_episode(seed: int) -> tuple[list[np.ndarray], list[bool]]:
    """Drive the real env: agent to the computer, then the controlled robot to the goal."""
    env = gym.make(RRC)
    obs, _ = env.reset(seed=seed)
    observations, terminated = [obs], [False]
    for _ in range(200):
        agent, robot = obs[:2], obs[2:4]
        controlled = bool(env.unwrapped._info()["robot_controlled"])
        target, position = ((0.5, -0.5), robot) if controlled else ((0.5, 0.5), agent)
        action = np.clip((np.asarray(target) - position) / 0.1, -1.0, 1.0).astype(np.float32)
        obs, _, done, truncated, _ = env.step(action)
        observations.append(obs)
        terminated.append(bool(done))
        if done or truncated:
            break
    return observations, terminated


def _icem(horizon: int, population: int) -> ICEM:
    box = (np.full(2, -1.0), np.ones(2))
    generator = torch.Generator().manual_seed(0)
    return ICEM(*box, horizon=horizon, population=population, generator=generator)


def test_alive_steps_count_the_terminal_step_and_drop_the_rest():
    terminal = torch.tensor([[False, False, True, False, True], [False] * 5, [True] + [False] * 4])
    assert alive_steps(terminal).tolist() == [
        [True, True, True, False, False],
        [True] * 5,
        [True, False, False, False, False],
    ]
    with pytest.raises(ValueError, match="bool"):
        alive_steps(terminal.float())


def test_reduction_with_alive_steps_on_hand_values():
    costs = torch.tensor([[3.0, 1.0, 2.0, 0.5, 9.0]])
    alive = alive_steps(torch.tensor([[False, False, True, False, False]]))
    assert reduce_along_trajectory(costs, "sum", alive).item() == 6.0
    assert reduce_along_trajectory(costs, "best", alive).item() == 1.0
    assert reduce_along_trajectory(costs, "final", alive).item() == 2.0
    assert reduce_along_trajectory(costs, "sum").item() == 15.5  # unmasked: every step
    with pytest.raises(ValueError, match="shape"):
        reduce_along_trajectory(costs, "sum", alive[:, :3])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rrc_terminal_agrees_with_the_real_env_termination(seed):
    observations, terminated = _scripted_rrc_episode(seed)
    assert terminated[-1], "the scripted policy must reach the goal"
    predicted = RRCCost().terminal(torch.as_tensor(np.stack(observations)))
    assert predicted.tolist() == terminated


def test_shepherd_terminal_is_false_while_the_sheep_is_hidden():
    env = gym.make("mbplan/Shepherd-v0")
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    rows = [obs]
    for _ in range(60):
        obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        rows.append(obs)
    rows = np.stack(rows)
    hidden = ~np.any(rows[:, 4:6], axis=1)
    assert hidden.any()
    assert not ShepherdCost().terminal(torch.as_tensor(rows))[torch.as_tensor(hidden)].any()


def test_rollout_states_are_the_states_of_stepping_the_model_on_its_own_predictions(model):
    generator = torch.Generator().manual_seed(0)
    obs = torch.rand(4, 4, generator=generator) - 0.5
    state = model.initial_state(obs[:, None], torch.zeros(4, model.k, 2))
    actions = 2 * torch.rand(4, 7, 2, generator=generator) - 1
    pred, last, states = model.rollout(state, obs, actions, return_states=True)
    current, s = obs, state
    for t in range(7):
        p, s, _ = model.step(current, actions[:, t], s)
        torch.testing.assert_close(states[:, t], s, rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(pred[:, t], p, rtol=1e-6, atol=1e-6)
        current = p
    assert torch.equal(states[:, -1], last)
    plain_pred, plain_last = model.rollout(state, obs, actions)
    assert torch.equal(plain_pred, pred) and torch.equal(plain_last, last)


def _problem(model, batch=2, population=5, horizon=12, seed=1):
    generator = torch.Generator().manual_seed(seed)
    obs = torch.tensor([[0.45, 0.4, 0.3, -0.2], [-0.5, -0.5, -0.7, 0.6]])[:batch]
    state = model.initial_state(obs[:, None], torch.zeros(batch, model.k, 2))
    actions = 2 * torch.rand(batch, population, horizon, 2, generator=generator) - 1
    return state, obs, actions


def test_the_objective_adds_action_and_latent_terms_to_the_task_cost(model):
    state, obs, actions = _problem(model)
    b, p, h, a = actions.shape
    goal = state[1].clone()
    task = CostWithTerms(RRCCost(), [ActionPenalty(0.3), ActionSmoothness(0.2), LatentGoal(goal)])
    costs = make_objective(model, state, obs, task)(actions)
    flat = actions.reshape(b * p, h, a)
    pred, _, states = model.rollout(
        state.repeat_interleave(p, 0), obs.repeat_interleave(p, 0), flat, return_states=True
    )
    expected = (
        torch.linalg.vector_norm(pred[..., 2:4] - torch.tensor([0.5, -0.5]), dim=-1)
        + 0.3 * (flat**2).sum(-1)
        + 0.2 * torch.cat([torch.zeros(b * p, 1), ((flat[:, 1:] - flat[:, :-1]) ** 2).sum(-1)], 1)
        + torch.linalg.vector_norm(states - goal, dim=-1)
    ).sum(-1)
    torch.testing.assert_close(costs, expected.reshape(b, p), rtol=1e-5, atol=1e-5)
    plain = make_objective(model, state, obs, RRCCost())(actions)
    assert (costs > plain).all()


def test_the_objective_masks_the_steps_after_a_predicted_termination():
    # the simulator as the model, from a real state 3 steps after the robot came under control
    env, sim = gym.make(RRC), gym.make(RRC)
    obs, _ = env.reset(seed=0)
    sim.reset(seed=0)
    while not env.unwrapped._info()["robot_controlled"]:
        obs, *_ = env.step(np.clip((np.array([0.5, 0.5]) - obs[:2]) / 0.1, -1, 1))
    truth = GroundTruthModel([env], sim)
    current = torch.as_tensor(obs)[None]
    state = truth.initial_state(current[:, None, :0], torch.zeros(1, 0, 2))
    # candidates: straight to the goal at speeds 1, 0.9, 0.8, 0.7 (they reach it), or random
    generator = torch.Generator().manual_seed(0)
    actions = 2 * torch.rand(1, 8, 30, 2, generator=generator, dtype=torch.float64) - 1
    direction = torch.tensor([0.5, -0.5], dtype=torch.float64) - current[0, 2:4].double()
    for i, speed in enumerate((1.0, 0.9, 0.8, 0.7)):
        actions[0, i] = speed * direction / direction.abs().max()
    b, p, h, a = actions.shape
    pred, _ = truth.rollout(state.expand(p, -1), current.expand(p, -1), actions.reshape(p, h, a))
    task = RRCCost()
    terminal = task.terminal(pred)
    assert terminal[:4].any(-1).all(), "the straight plans reach the goal in the simulator"
    step = task.step_cost(pred)
    alive = alive_steps(terminal)
    for how in ("sum", "best", "final"):
        masked = make_objective(truth, state, current, task, reduction=how, mask_terminal=True)
        expected = reduce_along_trajectory(step, how, alive).reshape(b, p)
        torch.testing.assert_close(masked(actions), expected.to(actions.dtype))
    unmasked = make_objective(truth, state, current, task)(actions)
    masked_sum = make_objective(truth, state, current, task, mask_terminal=True)(actions)
    ended = terminal.any(-1).reshape(b, p)
    assert (masked_sum[ended] < unmasked[ended]).all()
    assert torch.equal(masked_sum[~ended], unmasked[~ended])
    # unmasked, the plan that reaches the goal first is not the cheapest (it overshoots and
    # pays for the steps after the end); masked, it is
    assert int(masked_sum[0, :4].argmin()) == 0


def test_a_large_action_penalty_makes_the_plans_gentler(model):
    state, obs, _ = _problem(model)
    norms = []
    for weight in (0.0, 5.0):
        task = CostWithTerms(RRCCost(), [ActionPenalty(weight)])
        planner = _icem(15, 40)
        planner.reset(2)
        plan = planner.plan(make_objective(model, state, obs, task))
        norms.append(float(plan.norm(dim=-1).mean()))
    assert norms[1] < 0.5 * norms[0], norms


def test_bad_combinations_are_refused_with_the_reason(model):
    class NoTerminal:
        def step_cost(self, obs):
            return obs[..., 0]

        def is_success(self, obs, info):
            return False

    state, obs, _ = _problem(model)
    with pytest.raises(ValueError, match="no terminal"):
        make_objective(model, state, obs, NoTerminal(), mask_terminal=True)
    planner = _icem(5, 8)
    with pytest.raises(ValueError, match="no terminal"):
        MPCAgent(model, planner, NoTerminal(), mask_terminal=True)
    env, sim = gym.make(RRC), gym.make(RRC)
    env.reset(seed=0), sim.reset(seed=0)
    truth = GroundTruthModel([env], sim)
    latent = CostWithTerms(RRCCost(), [LatentGoal(torch.zeros(3))])
    with pytest.raises(ValueError, match="return_states"):
        make_objective(truth, torch.zeros(1, 3), torch.zeros(1, 4), latent)
    with pytest.raises(ValueError, match=">= 0"):
        ActionPenalty(-1.0)
    with pytest.raises(ValueError, match="finite"):
        LatentGoal(torch.tensor([float("nan")]))
    with pytest.raises(ValueError, match="not a cost term"):
        CostWithTerms(RRCCost(), [lambda o, a, s: o[..., 0]])


def test_the_agent_plans_a_vector_env_with_terms_and_termination_masking(model):
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(RRC) for _ in range(2)])
    obs, _ = envs.reset(seed=[3, 4])
    planner = _icem(10, 16)
    task = CostWithTerms(
        RRCCost(), [ActionPenalty(0.01), LatentGoal(torch.zeros(model.state_size), 0.01)]
    )
    agent = MPCAgent(model, planner, task, mask_terminal=True, rollout_kwargs={"check_nan": False})
    agent.reset(obs)
    for _ in range(4):
        actions = agent.act(obs)
        assert actions.shape == (2, 2) and np.all(np.abs(actions) <= 1.0)
        obs, *_ = envs.step(actions)
    assert agent.replanned


def test_plan_cli_takes_the_masking_and_the_action_terms(tmp_path):
    out = tmp_path / "plan.json"
    argv = ["plan", "--run", str(RUN), "--env", RRC, "--episodes", "1", "--max-steps", "5"]
    extra = ["--mask-terminal", "--action-penalty", "0.1", "--action-smoothness", "0.05"]
    assert main([*argv, *extra, "--no-progress", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    assert (summary["mask_terminal"], summary["action_penalty"], summary["action_smoothness"]) == (
        True,
        0.1,
        0.05,
    )
    with pytest.raises(SystemExit) as error:
        main([*argv, "--action-penalty", "-1"])
    assert error.value.code == 2
