"""MPCAgent: drives a gymnasium vector env of RRC like run_mpc; numpy/tensor in and out."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

import sims  # noqa: F401  (registers the envs)
from planners.agent import MPCAgent
from planners.costs import RRCCost
from planners.ground_truth import GroundTruthModel
from planners.icem import ICEM
from planners.mpc import run_mpc

ENV = "mbplan/RobotRemoteControl-v0"
SEEDS = [3, 4]
MAX_STEPS = 25


def tiny_icem(low, high, fixed_shape: bool = False) -> ICEM:
    return ICEM(
        low,
        high,
        10,
        population=12,
        iterations=2,
        elites=3,
        generator=torch.Generator().manual_seed(0),
        fixed_shape=fixed_shape,
    )


def drive_vector_env(fixed_shape: bool) -> tuple[list[bool], list[int]]:
    """The agent in a gymnasium loop over a SyncVectorEnv; success and step per env."""
    envs = gym.vector.SyncVectorEnv([lambda: gym.make(ENV) for _ in SEEDS])
    simulator = gym.make(ENV)
    simulator.reset(seed=0)
    model = GroundTruthModel(envs.envs, simulator)
    space = envs.single_action_space
    task = RRCCost()
    agent = MPCAgent(model, tiny_icem(space.low, space.high, fixed_shape), task)
    obs, _ = envs.reset(seed=SEEDS)
    agent.reset(obs)
    success_step = [0 if task.is_success(o, {}) else -1 for o in obs]
    done = np.array([s >= 0 for s in success_step])
    last = obs.copy()
    for step in range(1, MAX_STEPS + 1):
        if done.all():
            break
        actions = agent.act(last, active=~done)
        assert isinstance(actions, np.ndarray) and actions.shape == (len(SEEDS), 2)
        obs, _, terminated, truncated, _ = envs.step(actions)
        for b in np.flatnonzero(~done):
            last[b] = obs[b]
            if task.is_success(obs[b], {}):
                success_step[b] = step
            done[b] = success_step[b] >= 0 or terminated[b] or truncated[b]
    envs.close()
    return [s >= 0 for s in success_step], success_step


def run_mpc_reference() -> tuple[list[bool], list[int]]:
    envs = [gym.make(ENV) for _ in SEEDS]
    simulator = gym.make(ENV)
    simulator.reset(seed=0)
    space = envs[0].action_space
    results = run_mpc(
        envs,
        GroundTruthModel(envs, simulator),
        tiny_icem(space.low, space.high),
        RRCCost(),
        max_steps=MAX_STEPS,
        seeds=SEEDS,
    )
    return [r.success for r in results], [r.success_step for r in results]


@pytest.mark.parametrize("fixed_shape", [False, True])
def test_agent_on_a_vector_env_matches_run_mpc(fixed_shape: bool) -> None:
    expected = run_mpc_reference()
    assert drive_vector_env(fixed_shape) == expected


class CountingModel:
    """A linear toy model with k = 1 that counts its planning rollouts."""

    k = 1

    def __init__(self) -> None:
        self.rollouts = 0
        self.filtered: list[torch.Tensor] = []

    def initial_state(self, obs_context, act_context):
        return obs_context[:, 0].clone()

    def step(self, obs, action, state):
        self.filtered.append(obs.clone())
        return obs + 0.1 * action.repeat(1, 2), obs + 0.1 * action.repeat(1, 2), None

    def rollout(self, state, obs, actions):
        self.rollouts += 1
        pred = obs[:, None] + 0.1 * torch.cumsum(actions.repeat(1, 1, 2), dim=1)
        return pred, pred[:, -1]


def test_warmup_replanning_and_types() -> None:
    model = CountingModel()
    low, high = -np.ones(2, np.float32), np.ones(2, np.float32)
    planner = ICEM(low, high, 5, population=6, iterations=1, elites=2)
    agent = MPCAgent(model, planner, RRCCost(), replan_every=3, warmup_action=[0.5, 0.0])
    obs = torch.zeros(4)
    agent.reset(obs)
    first = agent.act(obs)  # warm-up: the given action, a tensor for tensor input
    assert isinstance(first, torch.Tensor) and first.tolist() == [0.5, 0.0]
    assert model.rollouts == 0
    actions = [agent.act(obs) for _ in range(6)]
    # plans at the first step after the warm-up and every 3 steps after: 2 plans x 1 iteration
    assert model.rollouts == 2
    assert agent.replanned is False
    plan_actions = agent.plan
    assert torch.equal(actions[-1], plan_actions[0, 2])  # open loop within a plan
    assert isinstance(agent.act(obs.numpy()), np.ndarray)


def test_masked_envs_cost_zero_without_rollout_rows() -> None:
    low, high = -np.ones(2, np.float32), np.ones(2, np.float32)
    seen = []

    class Spy(CountingModel):
        def rollout(self, state, obs, actions):
            seen.append(obs.shape[0])
            return super().rollout(state, obs, actions)

    for fixed, expected in ((False, 6), (True, 12)):  # rows left out vs all rolled out
        seen.clear()
        planner = ICEM(low, high, 5, population=6, iterations=1, elites=2, fixed_shape=fixed)
        agent = MPCAgent(Spy(), planner, RRCCost())
        obs = np.zeros((2, 4), np.float32)
        agent.reset(obs)
        agent.act(obs)
        agent.act(obs, active=np.array([True, False]))
        assert seen == [expected]


def test_bad_arguments() -> None:
    low, high = -np.ones(2, np.float32), np.ones(2, np.float32)
    planner = ICEM(low, high, 5, population=6, iterations=1, elites=2)
    with pytest.raises(ValueError, match="replan_every"):
        MPCAgent(CountingModel(), planner, RRCCost(), replan_every=0)
    with pytest.raises(ValueError, match="warmup_action"):
        MPCAgent(CountingModel(), planner, RRCCost(), warmup_action=[0.0])
    agent = MPCAgent(CountingModel(), planner, RRCCost())
    with pytest.raises(RuntimeError, match="reset"):
        agent.act(np.zeros(4))
    agent.reset(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="batch size 2"):
        agent.act(np.zeros((3, 4)))
