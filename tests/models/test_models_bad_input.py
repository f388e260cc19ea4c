"""Bad input gives a ValueError naming the argument, what was expected and what was received."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import make_world_model

B, T, OBS, ACT = 3, 6, 4, 2


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return make_world_model("gatel0rd", OBS, ACT, hidden_size=4, feature_size=6, k=2).eval()


def _good():
    return torch.randn(B, T, OBS), torch.randn(B, T, ACT)


def test_wrong_rank(model):
    obs, actions = _good()
    with pytest.raises(
        ValueError, match=r"obs: expected shape \(batch, time, obs_dim=4\), got \(3, 4\)"
    ):
        model(obs[:, 0], actions)


def test_wrong_feature_size(model):
    obs, actions = _good()
    with pytest.raises(ValueError, match=r"actions: .*action_dim=2.*got \(3, 6, 3\)"):
        model(obs, torch.randn(B, T, 3))
    with pytest.raises(ValueError, match=r"obs: .*obs_dim=4.*got \(3, 6, 5\)"):
        model(torch.randn(B, T, 5), actions)


def test_mismatched_batch_and_time(model):
    obs, actions = _good()
    with pytest.raises(
        ValueError, match=r"actions: expected shape \(batch=3, time=6, action_dim=2\)"
    ):
        model(obs, actions[:2])
    with pytest.raises(ValueError, match=r"actions: .*got \(3, 5, 2\)"):
        model(obs, actions[:, :5])


@pytest.mark.parametrize("dtype", [torch.int64, torch.float64, torch.bool])
def test_wrong_dtype(model, dtype):
    obs, actions = _good()
    with pytest.raises(ValueError, match=rf"obs: expected dtype torch.float32 .*got {dtype}"):
        model(obs.to(dtype), actions)


def test_not_a_tensor(model):
    _, actions = _good()
    with pytest.raises(ValueError, match="obs: expected a tensor.*got list"):
        model([[0.0] * OBS] * B, actions)


@pytest.mark.parametrize("argument", ["obs", "actions"])
def test_nan_in_inputs(model, argument):
    obs, actions = _good()
    bad = {"obs": obs, "actions": actions}
    bad[argument][1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match=rf"{argument}: expected finite values, got 1 NaN/inf"):
        model(bad["obs"], bad["actions"])


def test_too_short_for_k(model):
    obs, actions = _good()
    with pytest.raises(ValueError, match="at least 2 time steps"):
        model(obs[:, :1], actions[:, :1])


def test_teacher_arguments(model):
    obs, actions = _good()
    with pytest.raises(
        ValueError, match=r"teacher_prob: expected a probability in \[0, 1\], got 1.5"
    ):
        model(obs, actions, 1.5)
    with pytest.raises(ValueError, match="teacher_mask: expected a bool tensor, got torch.float32"):
        model(obs, actions, teacher_mask=torch.ones(B, T))
    with pytest.raises(ValueError, match=r"teacher_mask: expected shape \(batch=3, time=6\)"):
        model(obs, actions, teacher_mask=torch.ones(B, T + 1, dtype=torch.bool))


def test_step_and_rollout_check_state_and_horizon(model):
    obs, actions = _good()
    state = torch.zeros(B, model.state_size)
    with pytest.raises(
        ValueError, match=r"state: expected shape \(batch=3, state_size=4\), got \(3, 5\)"
    ):
        model.step(obs[:, 0], actions[:, 0], torch.zeros(B, 5))
    with pytest.raises(ValueError, match=r"action: expected shape \(batch=3, action_dim=2\)"):
        model.step(obs[:, 0], actions[:2, 0], state)
    with pytest.raises(ValueError, match="horizon >= 1"):
        model.rollout(state, obs[:, 0], actions[:, :0])
    nan_state = state.clone()
    nan_state[0, 0] = float("nan")
    with pytest.raises(ValueError, match="state: expected finite values"):
        model.rollout(nan_state, obs[:, 0], actions)
    model.rollout(nan_state, obs[:, 0], actions, check_nan=False)  # the caller opted out


def test_initial_state_context_length(model):
    obs, actions = _good()
    with pytest.raises(ValueError, match=r"obs_context: expected shape \(batch, k=2, obs_dim=4\)"):
        model.initial_state(obs[:, :3], actions[:, :3])


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="hidden_size: expected a positive integer, got 0"):
        make_world_model("gru", 2, 0, hidden_size=0)
    with pytest.raises(ValueError, match="action_dim: expected a non-negative integer, got -1"):
        make_world_model("gru", 2, -1)
    with pytest.raises(ValueError, match="gate_noise_level"):
        make_world_model("gatel0rd", 2, 0, gate_noise_level=-0.1)
