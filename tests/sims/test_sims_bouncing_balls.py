"""Bouncing Balls: elastic collisions, padding, ball counts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from sims.bouncing_balls import BALL_RADIUS, MAX_BALLS, BouncingBallsEnv

NO_ACTION = np.zeros(0, np.float32)


def _kinetic_energy(state: np.ndarray, num_balls: int) -> float:
    velocities = state[: 4 * num_balls].reshape(num_balls, 4)[:, 2:]
    return 0.5 * float(np.sum(velocities**2))  # unit masses


@pytest.mark.parametrize("num_balls", [1, 4, 6])
def test_energy_is_conserved_and_balls_stay_in_the_box(num_balls):
    env = BouncingBallsEnv(num_balls=num_balls)
    env.reset(seed=num_balls)
    energy = _kinetic_energy(env.get_state(), num_balls)
    directions_changed = 0
    previous = env.get_state()
    for _ in range(300):
        obs, reward, terminated, truncated, info = env.step(NO_ACTION)
        state = env.get_state()
        assert (reward, terminated, truncated, info) == (0.0, False, False, {})
        assert _kinetic_energy(state, num_balls) == pytest.approx(energy, rel=1e-6)
        # a wall is found after the substep that moved a ball into it: one substep of overlap
        overlap = np.sqrt(2 * energy) * BouncingBallsEnv.dt + 1e-4  # fastest possible ball
        present = obs[: 2 * num_balls]
        assert np.all(present >= BALL_RADIUS - overlap)
        assert np.all(present <= 1 - BALL_RADIUS + overlap)
        assert np.all(obs[2 * num_balls :] == 0.0)
        directions_changed += int(np.any(np.sign(state[2:4]) != np.sign(previous[2:4])))
        previous = state
    assert directions_changed > 3  # the first ball bounced several times


def test_observation_has_a_fixed_size_with_zero_padding():
    for num_balls in (1, 4, MAX_BALLS):
        env = gym.make("mbplan/BouncingBalls-v0", num_balls=num_balls)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (2 * MAX_BALLS,)
        assert np.all(obs[: 2 * num_balls] > 0.0) and np.all(obs[2 * num_balls :] == 0.0)


def test_balls_start_apart():
    env = BouncingBallsEnv(num_balls=MAX_BALLS)
    env.reset(seed=3)
    for _ in range(20):
        xy = env.reset()[0].reshape(MAX_BALLS, 2)
        gaps = np.linalg.norm(xy[:, None] - xy[None], axis=-1) + np.eye(MAX_BALLS) * 9
        assert gaps.min() >= 2 * BALL_RADIUS + 0.01 - 1e-6


@pytest.mark.parametrize("bad", [0, MAX_BALLS + 1, 2.5, True, "4"])
def test_bad_ball_counts_are_rejected(bad):
    with pytest.raises(ValueError, match="num_balls: expected an int in"):
        BouncingBallsEnv(num_balls=bad)


def test_frames_show_each_ball_where_it_is():
    size, radius = 32, 0.1
    env = BouncingBallsEnv(num_balls=1, observation="frames", frame_size=size, ball_radius=radius)
    frame, _ = env.reset(seed=5)
    assert frame.shape == (size, size) and frame.dtype == np.float32
    assert env.observation_space.contains(frame)
    for _ in range(10):
        (x, y), mass = env._xy[0], frame.sum()
        # the disc's area in pixels (anti-aliasing keeps the sum up to pixel rounding, which
        # Pillow's inclusive bounding box biases up), its centre of brightness
        assert mass == pytest.approx(np.pi * (radius * size + 0.0625) ** 2, rel=0.08)
        rows, cols = np.indices(frame.shape) + 0.5
        assert (frame * cols).sum() / mass == pytest.approx(x * size, abs=0.1)
        assert (frame * rows).sum() / mass == pytest.approx((1 - y) * size, abs=0.1)  # y up
        frame = env.step(NO_ACTION)[0]


def test_frames_grow_with_the_ball_count_and_radius_changes_contacts():
    masses = []
    for num_balls in (4, 5, 6):
        env = BouncingBallsEnv(num_balls, observation="frames", frame_size=24, ball_radius=0.1)
        masses.append(env.reset(seed=0)[0].sum())  # balls start apart: no overlap
    assert masses == pytest.approx([n * np.pi * 2.4625**2 for n in (4, 5, 6)], rel=0.08)
    env = BouncingBallsEnv(1, ball_radius=0.1)
    env.reset(seed=1)
    for _ in range(200):
        obs = env.step(NO_ACTION)[0]
        assert np.all(obs[:2] >= 0.1 - 0.02) and np.all(obs[:2] <= 0.9 + 0.02)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"observation": "pixels"}, "observation"),
        ({"frame_size": 4}, "frame_size"),
        ({"ball_radius": 0.3}, "ball_radius"),
    ],
)
def test_bad_frame_options_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        BouncingBallsEnv(**kwargs)
