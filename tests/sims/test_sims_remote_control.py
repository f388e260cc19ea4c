"""Robot Remote Control: control latch, robot motion, goal, walls (reference Sec. 2.2)."""

from __future__ import annotations

import numpy as np
import pytest

from sims.remote_control import (
    ACTION_SCALE,
    COMPUTER_POSITION,
    GOAL_OBS,
    GOAL_POSITION,
    ROBOT_NORMALIZATION,
    RobotRemoteControlEnv,
)


def _env_at(agent, robot, controlled=False) -> RobotRemoteControlEnv:
    env = RobotRemoteControlEnv()
    env.reset(seed=0)
    env.set_state(np.array([*agent, 0, 0, *robot, 0, 0, float(controlled), 0.0]))
    return env


def test_goal_constants_agree():
    assert tuple(ROBOT_NORMALIZATION.world_to_obs(GOAL_POSITION)) == GOAL_OBS
    np.testing.assert_array_equal(ROBOT_NORMALIZATION.obs_to_world(GOAL_OBS), GOAL_POSITION)


def test_start_positions_lie_in_their_rooms():
    env = RobotRemoteControlEnv()
    env.reset(seed=5)
    starts = np.stack([env.reset()[0] for _ in range(300)])
    assert np.all(np.abs(starts) <= 0.95)  # clipped into the rooms shrunk by the radius
    assert np.all(starts[:, 0] >= -0.95) and np.any(
        starts[:, 2] == -0.95
    )  # robot x clipped at 1.05
    assert not any(env.reset()[1]["robot_controlled"] for _ in range(20))


def test_robot_stays_put_until_control_then_follows_the_agent():
    env = RobotRemoteControlEnv()
    obs, info = env.reset(seed=2)
    rng = np.random.default_rng(0)
    still, followed = 0, 0
    for _ in range(1500):
        controlled_before = info["robot_controlled"]
        action = rng.uniform(-1, 1, 2).astype(np.float32)
        new_obs, _, terminated, _, info = env.step(action)
        if not controlled_before:
            assert new_obs[2:].tobytes() == obs[2:].tobytes()  # bit-identical: not moved at all
            still += 1
        else:
            agent_step, robot_step = new_obs[:2] - obs[:2], new_obs[2:] - obs[2:]
            in_free_space = np.all(np.abs(new_obs) < 0.94) and np.all(np.abs(obs) < 0.94)
            if in_free_space:
                np.testing.assert_allclose(robot_step, agent_step, atol=1e-6)
                np.testing.assert_allclose(agent_step, ACTION_SCALE * action, atol=1e-6)
                followed += 1
        obs = new_obs
        if terminated:
            obs, info = env.reset()
    assert still > 50 and followed > 50


def test_control_latches_when_the_agent_reaches_the_computer():
    cx, cy = COMPUTER_POSITION
    env = _env_at((cx - 0.25, cy), (2.0, 0.0))
    right = np.array([1.0, 0.0], np.float32)
    flags = [env.step(right)[4]["robot_controlled"] for _ in range(4)]
    # the agent is 0.15, 0.05 and -0.05 from the computer after steps 1..3; control from step 2
    # (distance 0.05 < 0.1) and latched afterwards, even when it walks away again
    assert flags == [False, True, True, True]
    env.step(np.array([-1.0, -1.0], np.float32))
    assert env.step(np.array([-1.0, -1.0], np.float32))[4]["robot_controlled"]
    # the robot did not move on the step control was gained, only after
    state = env.get_state()
    np.testing.assert_allclose(state[4:6], (2.0 + 2 * 0.1 - 2 * 0.1, 0.0 - 2 * 0.1), atol=1e-12)


def test_robot_moves_by_exactly_the_scaled_action_in_free_space():
    env = _env_at((0.0, 0.0), (2.0, 0.0), controlled=True)
    action = np.array([0.3, -0.7], np.float32)
    obs, *_ = env.step(action)
    np.testing.assert_allclose(obs, [0.03, -0.07, 0.03, -0.07], atol=1e-7)


def test_out_of_range_actions_are_clipped():
    env = _env_at((0.0, 0.0), (2.0, 0.0), controlled=True)
    obs, *_ = env.step(np.array([5.0, -2.0], np.float32))
    np.testing.assert_allclose(obs, [0.1, -0.1, 0.1, -0.1], atol=1e-7)


def test_walls_stop_both_bodies_by_contact():
    env = _env_at((0.8, 0.0), (2.8, 0.0), controlled=True)
    for _ in range(10):
        obs, *_ = env.step(np.array([1.0, 0.5], np.float32))
    assert obs[0] == pytest.approx(0.95, abs=1e-3)  # stopped by the dividing wall, not clipped
    assert obs[2] == pytest.approx(0.95, abs=1e-3)  # robot stopped by its room's right wall
    assert obs[1] == pytest.approx(0.5, abs=1e-5) and obs[3] == pytest.approx(0.5, abs=1e-5)


def test_reaching_the_goal_gives_reward_and_terminates():
    gx, gy = GOAL_POSITION
    env = _env_at((0.0, 0.0), (gx - 0.15, gy), controlled=True)
    _, reward, terminated, truncated, _ = env.step(np.array([0.0, 0.0], np.float32))
    assert (reward, terminated, truncated) == (0.0, False, False)  # 0.15 away
    _, reward, terminated, _, _ = env.step(np.array([1.0, 0.0], np.float32))  # 0.05 away
    assert (reward, terminated) == (1.0, True)


def test_goal_threshold_can_be_widened_as_in_the_reference_wrapper():
    gx, gy = GOAL_POSITION
    for threshold, solved in ((0.1, False), (0.15, True)):
        env = RobotRemoteControlEnv(goal_threshold=threshold)
        env.reset(seed=0)
        env.set_state(np.array([0.0, 0.0, 0, 0, gx - 0.12, gy, 0, 0, 1.0, 0.0]))
        assert env.step(np.zeros(2, np.float32))[2] is solved
    with pytest.raises(ValueError, match="control_threshold: expected a positive"):
        RobotRemoteControlEnv(control_threshold=0.0)
