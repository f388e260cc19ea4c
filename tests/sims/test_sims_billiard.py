"""Billiard Ball physics invariants and hand-computed shots."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sims.billiard import (
    BALL_RADIUS,
    CORNER_MOUTH,
    POCKETS,
    SIDE_MOUTH,
    SPEED_RANGE,
    TABLE_DAMPING,
    TABLE_LENGTH,
    TABLE_NORMALIZATION,
    TABLE_WIDTH,
    BilliardBallEnv,
)

HALF_L, HALF_W = TABLE_LENGTH / 2, TABLE_WIDTH / 2
NO_ACTION = np.zeros(0, np.float32)
POCKET_OBS = {tuple(np.float32(TABLE_NORMALIZATION.world_to_obs(p))) for p in POCKETS}


def _episodes(count: int, seed: int):
    """Yield per episode: observations (151, 2), states (151, 7), infos (151 dicts)."""
    env = BilliardBallEnv()
    obs, info = env.reset(seed=seed)
    for episode in range(count):
        if episode:
            obs, info = env.reset()
        observations, states, infos = [obs], [env.get_state()], [info]
        for _ in range(150):
            obs, reward, terminated, truncated, info = env.step(NO_ACTION)
            assert (reward, terminated, truncated) == (0.0, False, False)
            observations.append(obs)
            states.append(env.get_state())
            infos.append(info)
        yield np.stack(observations), np.stack(states), infos


@pytest.fixture(scope="module")
def episodes():
    return list(_episodes(40, seed=11))


def _in_mouth(x: float, y: float) -> bool:
    """True where no cushion lines the nearest edge (the pocket mouths)."""
    near_long_edge = abs(y) > HALF_W - 2 * BALL_RADIUS
    if near_long_edge and (abs(x) > HALF_L - CORNER_MOUTH or abs(x) < SIDE_MOUTH):
        return True
    return abs(x) > HALF_L - 2 * BALL_RADIUS and abs(y) > HALF_W - CORNER_MOUTH


def test_some_balls_drop_and_some_do_not(episodes):
    steps = [infos[-1]["pocket_step"] for _, _, infos in episodes]
    assert any(s > 0 for s in steps) and any(s == -1 for s in steps)


def test_ball_stays_on_the_table_unless_pocketed(episodes):
    # a cushion is found after the substep that moved the ball into it: one substep of overlap
    tolerance = SPEED_RANGE[1] * BilliardBallEnv.dt + 1e-4
    for observations, states, infos in episodes:
        assert np.all(np.abs(observations) <= 1.0)
        for state, info in zip(states, infos, strict=True):
            if info["pocketed"]:
                continue
            x, y = state[0], state[1]
            assert abs(x) <= HALF_L and abs(y) <= HALF_W
            if not _in_mouth(x, y):  # a cushion keeps the centre one radius from the edge
                assert abs(x) <= HALF_L - BALL_RADIUS + tolerance
                assert abs(y) <= HALF_W - BALL_RADIUS + tolerance


def test_pocketed_ball_stays_put_on_a_pocket(episodes):
    for observations, states, infos in episodes:
        step = infos[-1]["pocket_step"]
        flags = [info["pocketed"] for info in infos]
        if step < 0:
            assert not any(flags)
            continue
        assert flags == [False] * step + [True] * (151 - step)
        assert all(
            info["pocket_step"] == (step if t >= step else -1) for t, info in enumerate(infos)
        )
        assert tuple(observations[step]) in POCKET_OBS
        assert np.all(observations[step:] == observations[step])
        assert np.all(states[step:, 2:4] == 0.0)


def test_speed_never_increases_and_decays_by_the_damping_between_cushions(episodes):
    per_step = TABLE_DAMPING ** (BilliardBallEnv.dt * BilliardBallEnv.substeps)
    free_steps = bounces = 0
    for _, states, infos in episodes:
        speed = np.hypot(states[:, 2], states[:, 3])
        for t in range(150):
            if infos[t + 1]["pocketed"]:
                break
            # elastic cushions: a bounce never adds speed (pymunk skips the damping of the
            # normal velocity in the bouncing substep, so the step loses a little less)
            assert speed[t + 1] < speed[t]
            (vx0, vy0), (vx1, vy1) = states[t, 2:4], states[t + 1, 2:4]
            turn = (vx0 * vy1 - vy0 * vx1) / (speed[t] * speed[t + 1])
            if abs(turn) < 1e-12 and vx0 * vx1 + vy0 * vy1 > 0:  # no contact: only damping acts
                assert speed[t + 1] == pytest.approx(speed[t] * per_step, rel=1e-12)
                free_steps += 1
            else:
                bounces += 1
                assert speed[t + 1] == pytest.approx(speed[t] * per_step, rel=1e-3)
    assert free_steps > 1000 and bounces > 50


def _shoot(x: float, y: float, vx: float, vy: float) -> BilliardBallEnv:
    env = BilliardBallEnv()
    env.reset(seed=0)
    env.set_state(np.array([x, y, vx, vy, 0.0, -1.0, 0.0]))
    return env


def test_shot_into_corner_pocket_drops_at_the_computed_step():
    # 0.2 m from both edges, 1 m/s along the diagonal: the centre crosses x = L/2 after travelling
    # 0.2 * sqrt(2) m; with damping d per second the distance after t s is (d**t - 1) / ln d.
    speed, ln_d = 1.0, math.log(TABLE_DAMPING)
    travel = 0.2 * math.sqrt(2)
    expected = next(
        k for k in range(1, 100) if speed * (TABLE_DAMPING ** (0.05 * k) - 1) / ln_d > travel
    )
    assert expected == 6
    env = _shoot(HALF_L - 0.2, HALF_W - 0.2, speed / math.sqrt(2), speed / math.sqrt(2))
    for k in range(1, 10):
        obs, _, _, _, info = env.step(NO_ACTION)
        assert info["pocketed"] == (k >= expected)
    assert info["pocket_step"] == expected
    assert obs.tolist() == [1.0, 1.0]


def test_shot_into_side_pocket_drops_at_the_computed_step():
    # from the centre straight up at 1 m/s: crosses y = W/2 = 0.56 m in step 12 (0.6 s)
    env = _shoot(0.0, 0.0, 0.0, 1.0)
    for _ in range(11):
        assert not env.step(NO_ACTION)[4]["pocketed"]
    obs, _, _, _, info = env.step(NO_ACTION)
    assert info == {"pocketed": True, "pocket_step": 12}
    assert obs.tolist() == [0.0, 1.0]


def test_straight_shot_bounces_off_the_end_cushion_elastically():
    env = _shoot(0.0, 0.1, 1.0, 0.0)
    per_step = TABLE_DAMPING**0.05
    xs, speeds = [], []
    for _ in range(40):
        env.step(NO_ACTION)
        state = env.get_state()
        xs.append(state[0])
        speeds.append(state[2])
    assert HALF_L - BALL_RADIUS - 0.05 < max(xs) <= HALF_L - BALL_RADIUS + 0.01
    assert speeds[-1] < 0  # came back
    np.testing.assert_allclose(np.abs(speeds), per_step ** np.arange(1, 41), rtol=1e-3)
    assert env.get_state()[1] == pytest.approx(0.1, abs=1e-12)  # head-on: no deflection
