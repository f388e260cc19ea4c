"""Policies against their definitions (shared/reference/gatel0rd.md Sec. 2.2-2.3)."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces
from scipy import stats

from mbplan.data.policies import (
    POLICIES,
    RRCBiasedPolicy,
    ShepherdPolicy,
    UniformPolicy,
    make_policy,
)

BOX2 = spaces.Box(-1.0, 1.0, (2,), np.float32)
BOX3 = spaces.Box(-1.0, 1.0, (3,), np.float32)
CLOSED = {"gate_open": False}


def rollout(policy, seed, infos=None, steps=None):
    policy.reset(np.random.default_rng(seed))
    steps = policy.steps if steps is None else steps
    return np.stack(
        [policy.act(t, None, CLOSED if infos is None else infos[t]) for t in range(steps)]
    )


def test_rrc_biased_magnitude_follows_the_reference_linspace():
    policy = RRCBiasedPolicy(BOX2, 50)
    actions = np.stack([rollout(policy, seed) for seed in range(20)])  # (20, 50, 2)
    norms = np.linalg.norm(actions.astype(np.float64), axis=-1)
    # reference: np.linspace(0.0001, 1, 50)[t] = 1e-4 + t * (1 - 1e-4) / 49
    for t in (0, 1, 10, 25, 49):
        np.testing.assert_allclose(norms[:, t], 1e-4 + t * 0.9999 / 49, rtol=1e-6)
    assert norms[:, 49] == pytest.approx(1.0, rel=1e-6)
    assert actions.dtype == np.float32


def test_rrc_biased_direction_is_uniform():
    policy = RRCBiasedPolicy(BOX2, 50)
    actions = np.concatenate([rollout(policy, seed) for seed in range(200)])
    angles = np.arctan2(actions[:, 0], actions[:, 1])  # a = (sin theta, cos theta) * m
    result = stats.kstest((angles % (2 * np.pi)) / (2 * np.pi), "uniform")
    assert result.pvalue > 1e-3  # 10,000 angles, seeded: deterministic


def test_generalization_policy_is_uniform_within_bounds():
    assert POLICIES["rrc-generalization"] is UniformPolicy
    policy = make_policy("rrc-generalization", BOX2, 50)
    actions = np.concatenate([rollout(policy, seed) for seed in range(1000)]).ravel()
    assert actions.min() >= -1.0 and actions.max() <= 1.0
    # 100,000 values: the standard error of the mean is 0.0018, of the variance 0.0009
    assert abs(actions.mean()) < 0.01
    assert actions.var() == pytest.approx(1 / 3, abs=0.005)
    assert stats.kstest(actions, "uniform", args=(-1, 2)).pvalue > 1e-3


def test_uniform_policy_uses_the_action_bounds():
    box = spaces.Box(
        np.array([0, -3], np.float32), np.array([0.5, -2], np.float32), dtype=np.float32
    )
    actions = rollout(UniformPolicy(box, 400), 0)
    assert (actions[:, 0] >= 0).all() and (actions[:, 0] <= 0.5).all()
    assert (actions[:, 1] >= -3).all() and (actions[:, 1] <= -2).all()
    empty = rollout(UniformPolicy(spaces.Box(-1, 1, (0,), np.float32), 7), 0)
    assert empty.shape == (7, 0)


def test_shepherd_grasp_persists_and_flips_with_probability_one_tenth():
    policy = ShepherdPolicy(BOX3, 100)
    actions = np.stack([rollout(policy, seed) for seed in range(1000)])  # (1000, 100, 3)
    grasp = actions[..., 2]
    # grasp = U(-0.5, 0.5) + 0.5 f with f = +-1, so its sign is the sign of f
    assert grasp.min() >= -1.0 and grasp.max() <= 1.0
    sign = np.sign(grasp)
    changes = (sign[:, 1:] != sign[:, :-1]).mean()
    assert changes == pytest.approx(0.1, abs=0.005)  # 99,000 transitions: s.e. 0.001
    assert (sign[:, 0] < 0).mean() == pytest.approx(0.1, abs=0.03)  # f starts +1, may flip first
    # within a run of equal sign the grasp is f/2 + U(-0.5, 0.5): uniform on [0, 1] or [-1, 0]
    positive = grasp[grasp > 0]
    assert stats.kstest(positive, "uniform", args=(0, 1)).pvalue > 1e-3
    movement = actions[..., :2].ravel()
    assert abs(movement.mean()) < 0.01 and movement.var() == pytest.approx(1 / 3, abs=0.005)


def test_shepherd_bias_walks_up_and_left_until_the_gate_opens():
    plain = rollout(ShepherdPolicy(BOX3, 20, bias_probability=0.0), 7)
    infos = [{"gate_open": t >= 6} for t in range(20)]
    biased = rollout(ShepherdPolicy(BOX3, 20, bias_probability=1.0), 7, infos)
    # with probability 1 both biases switch on at step 0 and apply from step 1 until the gate opens
    np.testing.assert_array_equal(biased[0], plain[0])
    expected_y = 0.5 * plain[1:6, 1].astype(np.float64) + 0.5
    expected_x = 0.5 * plain[1:6, 0].astype(np.float64) - 0.5
    np.testing.assert_allclose(biased[1:6, 1], expected_y, atol=1e-6)
    np.testing.assert_allclose(biased[1:6, 0], expected_x, atol=1e-6)
    np.testing.assert_array_equal(biased[1:6, 2], plain[1:6, 2])  # grasp untouched
    np.testing.assert_array_equal(biased[6:], plain[6:])  # gate open: no bias any more


def test_shepherd_bias_switch_time_is_geometric():
    policy = ShepherdPolicy(BOX3, 100, bias_probability=0.02)
    biased_up = []
    for seed in range(2000):
        actions = rollout(policy, seed)
        biased_up.append(actions[50, 1] >= 0.0)  # biased y lies in [0, 1]
    # P(switched on before step 50) = 1 - 0.98^50 = 0.636; unbiased y >= 0 has probability 1/2
    expected = (1 - 0.98**50) + 0.98**50 * 0.5
    assert np.mean(biased_up) == pytest.approx(expected, abs=0.035)  # s.e. 0.0095


def test_policies_use_only_their_generator():
    state = np.random.get_state()[1].copy()
    first = rollout(make_policy("shepherd", BOX3, 30, {"bias_probability": 0.5}), 11)
    second = rollout(make_policy("shepherd", BOX3, 30, {"bias_probability": 0.5}), 11)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, rollout(make_policy("shepherd", BOX3, 30), 12))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_bad_policy_names_and_parameters():
    with pytest.raises(ValueError, match=r"policy: expected one of \[.*'uniform'.*got 'rnd'"):
        make_policy("rnd", BOX2, 10)
    with pytest.raises(ValueError, match="policy 'uniform': bad parameters"):
        make_policy("uniform", BOX2, 10, {"speed": 1})
    with pytest.raises(ValueError, match="bias_probability: expected a probability"):
        make_policy("shepherd", BOX3, 10, {"bias_probability": 2})
    with pytest.raises(ValueError, match="rrc-biased needs 2 action dims, got 3"):
        make_policy("rrc-biased", BOX3, 10)
    with pytest.raises(ValueError, match="steps: expected an episode length >= 1, got 0"):
        make_policy("uniform", BOX2, 0)
