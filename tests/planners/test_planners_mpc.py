"""MPC loop, objective and ground-truth adapter on a numpy mock of Robot Remote Control."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from planners.costs import RRCCost
from planners.ground_truth import GroundTruthModel
from planners.icem import ICEM
from planners.mpc import make_objective, run_mpc, success_rate


def _clip(value: float) -> float:
    return -1.0 if value < -1.0 else 1.0 if value > 1.0 else value


class MockRRC:
    """Kinematic RRC: the agent moves by 0.1 a; after it has come within 0.1 of the computer the
    robot moves along (latched). Observation [agent, robot - (2, 0)]; the goal is (0.5, -0.5).
    Plain Python floats inside, so that ground-truth planning in the tests stays fast."""

    def __init__(self) -> None:
        self.state = [0.0] * 5  # agent x, y, robot x, y, controlled
        self.steps = 0
        self.unwrapped = self

    def reset(self, *, seed=None, options=None):
        rng = np.random.default_rng(seed)
        self.state = [*rng.uniform(-0.9, 0.9, 2).tolist(), *rng.uniform(-0.9, 0.9, 2).tolist(), 0.0]
        self.steps = 0
        return self._obs(), {"robot_controlled": False}

    def _obs(self) -> np.ndarray:
        return np.array(self.state[:4], dtype=np.float32)

    def step(self, action):
        dx, dy = (0.1 * _clip(float(v)) for v in action)
        ax, ay, rx, ry, controlled = self.state
        self.steps += 1
        ax, ay = _clip(ax + dx), _clip(ay + dy)
        if controlled:
            rx, ry = _clip(rx + dx), _clip(ry + dy)
        if math.hypot(ax - 0.5, ay - 0.5) < 0.1:
            controlled = 1.0
        self.state = [ax, ay, rx, ry, controlled]
        done = math.hypot(rx - 0.5, ry + 0.5) < 0.1
        info = {"robot_controlled": bool(controlled)}
        return self._obs(), float(done), done, self.steps >= 200, info

    def render(self) -> np.ndarray:
        return np.zeros((8, 8, 3), np.uint8)

    def get_state(self) -> np.ndarray:
        return np.array(self.state, dtype=np.float64)

    def set_state(self, state) -> None:
        self.state = np.asarray(state, dtype=np.float64).tolist()


class LatchModel:
    """A hand-written recurrent model of MockRRC with k = 2: the hidden state is the latch.

    State (B, 1): 1 once control was gained. Records the calls the MPC makes.
    """

    k = 2

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    @staticmethod
    def _advance(obs, action, latch):
        action = action.clamp(-1, 1)
        agent = (obs[:, :2] + 0.1 * action).clamp(-1, 1)
        robot = torch.where(latch > 0.5, (obs[:, 2:4] + 0.1 * action).clamp(-1, 1), obs[:, 2:4])
        reached = torch.linalg.vector_norm(agent - torch.tensor([0.5, 0.5]), dim=-1, keepdim=True)
        latch = torch.maximum(latch, (reached < 0.1).to(latch.dtype))
        return torch.cat([agent, robot], dim=-1), latch

    def initial_state(self, obs_context, act_context):
        self.calls.append(("initial_state", (obs_context.clone(), act_context.clone())))
        return torch.zeros(obs_context.shape[0], 1)

    def step(self, obs, action, state):
        self.calls.append(("step", (obs.clone(), action.clone())))
        pred, state = self._advance(obs, action, state)
        return pred, state, None

    def rollout(self, state, obs, actions):
        preds = []
        for t in range(actions.shape[1]):
            obs, state = self._advance(obs, actions[:, t], state)
            preds.append(obs)
        return torch.stack(preds, dim=1), state


def small_icem(seed: int, horizon: int = 25) -> ICEM:
    return ICEM(
        [-1.0, -1.0],
        [1.0, 1.0],
        horizon,
        population=60,
        generator=torch.Generator().manual_seed(seed),
    )


def test_objective_expands_state_and_observation_to_the_population() -> None:
    model = LatchModel()
    obs = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, -0.5]])
    state = torch.tensor([[1.0], [0.0]])  # controlled in problem 0 only
    cost_fn = make_objective(model, state, obs, RRCCost())
    actions = torch.zeros(2, 3, 4, 2)
    actions[:, 1] = torch.tensor([1.0, -1.0])  # population member 1 moves towards +x, -y
    costs = cost_fn(actions)
    # problem 0: the robot moves from (0, 0) by (0.1, -0.1) per step over 4 steps.
    steps = torch.arange(1, 5) * 0.1
    moving = torch.sqrt((0.5 - steps) ** 2 * 2).sum()
    torch.testing.assert_close(
        costs[0],
        torch.stack([torch.tensor(4 * 0.5**0.5 * 1.0)] * 3).index_put_((torch.tensor(1),), moving),
    )
    torch.testing.assert_close(costs[1], torch.zeros(3))  # robot already at the goal, no control
    # rows: only problem 1 is rolled out, problem 0 gets zeros.
    partial = make_objective(
        model, state, obs, RRCCost(), rows=torch.tensor([1]), reduction="final"
    )
    torch.testing.assert_close(partial(actions), torch.zeros(2, 3))


def test_ground_truth_rollout_equals_stepping_the_env() -> None:
    real, scratch = MockRRC(), MockRRC()
    real.reset(seed=3)
    scratch.reset(seed=99)
    model = GroundTruthModel([real], scratch)
    state = model.initial_state(torch.zeros(1, 0, 4), torch.zeros(1, 0, 2))
    actions = torch.rand(3, 6, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    pred, final = model.rollout(state.expand(3, -1), torch.zeros(3, 4), actions)
    for row in range(3):
        env = MockRRC()
        env.set_state(state[0].numpy())
        expected = np.stack([env.step(a)[0] for a in actions[row].numpy()])
        np.testing.assert_array_equal(pred[row].numpy(), expected)
        np.testing.assert_array_equal(final[row].numpy(), env.get_state())
    np.testing.assert_array_equal(real.get_state(), state[0].numpy())  # the real env is untouched
    with pytest.raises(ValueError, match="separate env"):
        GroundTruthModel([real], real)


def test_mpc_with_ground_truth_solves_the_mock_task() -> None:
    envs = [MockRRC() for _ in range(2)]
    model = GroundTruthModel(envs, MockRRC())
    results = run_mpc(envs, model, small_icem(0), RRCCost(), max_steps=100, seeds=[0, 1])
    assert success_rate(results) == 1.0
    for result in results:
        assert result.costs[result.success_step] < 0.15
        assert result.observations.shape == (result.steps + 1, 4)
        assert result.warmup_steps == 0


def test_mpc_with_a_recurrent_model_warms_up_k_steps_and_filters() -> None:
    envs = [MockRRC() for _ in range(3)]
    model = LatchModel()
    results = run_mpc(
        envs,
        model,
        small_icem(1),
        RRCCost(),
        max_steps=100,
        seeds=[4, 5, 6],
        record_predictions=True,
        record_states=True,
        render=True,
    )
    assert success_rate(results) == 1.0
    kind, (obs_context, act_context) = model.calls[0]
    assert (
        kind == "initial_state"
        and obs_context.shape == (3, 2, 4)
        and act_context.shape == (3, 2, 2)
    )
    for b, result in enumerate(results):
        assert result.warmup_steps == 2
        np.testing.assert_array_equal(result.actions[:2], 0.0)  # the box midpoint
        np.testing.assert_array_equal(obs_context[b].numpy(), result.observations[:2])
        plans = result.steps - 2
        assert result.predictions.shape == (plans, 25, 4)
        assert result.model_states.shape == (plans, 1)
        assert len(result.frames) == result.steps + 1
        # The first prediction starts from the observation after the warm-up.
        first = result.predictions[0, 0]
        assert np.abs(first[:2] - result.observations[2, :2]).max() <= 0.1 + 1e-6
    # Filtering: the first k steps replay the warm-up inputs; afterwards each executed action is
    # fed with the observation it was taken at.
    steps = [args for kind, args in model.calls if kind == "step"]
    for t in range(2):
        torch.testing.assert_close(steps[t][0], obs_context[:, t])
    longest = max(results, key=lambda r: r.steps)
    b = results.index(longest)
    torch.testing.assert_close(steps[2][0][b], torch.from_numpy(longest.observations[2]))
    torch.testing.assert_close(steps[2][1][b], torch.from_numpy(longest.actions[2]))
    # The latch in the filtered state matches the env's hidden flag at the end.
    assert longest.model_states[-1, 0] == 1.0


def test_finished_envs_are_not_stepped_and_inputs_not_mutated() -> None:
    envs = [MockRRC() for _ in range(2)]
    model = GroundTruthModel(envs, MockRRC())
    warm = np.array([0.0, 0.0], np.float32)
    results = run_mpc(
        envs, model, small_icem(2), RRCCost(), max_steps=6, seeds=[7, 8], warmup_action=warm
    )
    assert all(r.steps <= 6 for r in results)
    np.testing.assert_array_equal(warm, [0.0, 0.0])
    # an env already solved at reset is never stepped

    class Solved(MockRRC):
        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.state[2:4] = [0.5, -0.5]
            return self._obs(), {}

        def step(self, action):
            raise AssertionError("a finished env was stepped")

    out = run_mpc([Solved()], LatchModel(), small_icem(3), RRCCost(), max_steps=10, seeds=[0])
    assert out[0].success and out[0].success_step == 0 and out[0].steps == 0


def test_mpc_bad_arguments() -> None:
    envs = [MockRRC()]
    with pytest.raises(ValueError, match="seeds must have length"):
        run_mpc(envs, LatchModel(), small_icem(0), RRCCost(), max_steps=10, seeds=[1, 2])
    with pytest.raises(ValueError, match="max_steps must exceed model.k = 2"):
        run_mpc(envs, LatchModel(), small_icem(0), RRCCost(), max_steps=2)
    with pytest.raises(ValueError, match=r"warmup_action must have shape \(2,\)"):
        run_mpc(
            envs, LatchModel(), small_icem(0), RRCCost(), max_steps=10, warmup_action=np.zeros(3)
        )
    with pytest.raises(ValueError, match="at least one env"):
        run_mpc([], LatchModel(), small_icem(0), RRCCost(), max_steps=10)
