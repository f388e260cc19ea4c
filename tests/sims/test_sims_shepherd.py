"""Shepherd: occlusion, gate, grasp/drop, catching, start variants (reference Sec. 2.3)."""

from __future__ import annotations

import numpy as np
import pytest

from sims.shepherd import (
    ACTION_SCALE,
    BODY_RADIUS,
    FIELD_NORMALIZATION,
    LEVER_POSITION,
    OBS_AGENT,
    OBS_CAGE,
    OBS_SHEEP,
    OBS_STABLE_HEIGHT,
    SHEEP_NORMALIZATION,
    SHEEP_PARK_Y,
    SHEEP_SPEED,
    ShepherdEnv,
)

HOLD = np.array([0.0, 0.0, 1.0], np.float32)  # stand still, keep / pick up the cage
DROP = np.array([0.0, 0.0, 0.0], np.float32)  # stand still, drop (a[2] <= 0)


def _env(agent, cage, sheep, *, gate=False, carried=True, caught=False, height=0.5, seed=0):
    """An env in a chosen state (layout: ShepherdEnv.state_names)."""
    env = ShepherdEnv()
    env.reset(seed=seed)
    hidden = not gate and sheep[1] < height
    latent = [float(gate), float(carried), float(caught), float(hidden), height]
    env.set_state(np.array([*agent, 0, 0, *cage, 0, 0, *sheep, 0, 0, *latent, 0.0]))
    return env


def test_state_layout_is_named():
    env = ShepherdEnv()
    env.reset(seed=0)
    assert env.state_names[:4] == ("agent.x", "agent.y", "agent.vx", "agent.vy")
    assert env.state_names[12:] == (
        "gate_open",
        "cage_carried",
        "sheep_caught",
        "sheep_hidden",
        "stable_height",
        "steps",
    )


def _walk_to_lever(env, max_steps=8):
    """Walk straight up until the gate opens; return (step it opened, obs after it, info)."""
    up = np.array([0.0, 1.0, 1.0], np.float32)
    for t in range(1, max_steps):
        obs, _, _, _, info = env.step(up)
        if info["gate_open"]:
            assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]  # still hidden in this observation
            obs, _, _, _, info = env.step(up)
            return t, obs, info
    raise AssertionError("the gate did not open")


def test_sheep_is_hidden_behind_the_stable_parked_at_the_gate_and_reappears_when_it_opens():
    env = ShepherdEnv()
    obs, info = env.reset(seed=4)
    state = env.get_state()
    state[0:2] = (-0.85, -0.6)  # agent far enough below the lever (0.6 > 0.2)
    env.set_state(state)
    sheep_x, height = state[8], state[16]
    assert not info["gate_open"] and obs[OBS_STABLE_HEIGHT] == np.float32(height)
    y = state[9]
    for _ in range(45):  # the sheep walks down, disappears, and waits at the closed gate
        obs, *_ = env.step(HOLD)
        y = y - SHEEP_SPEED if y >= height else SHEEP_PARK_Y
        if y >= height:
            assert obs[OBS_SHEEP].tolist() == pytest.approx([sheep_x - 2.0, y], abs=1e-6)
        else:  # the reference parks a hidden sheep at the gate at once
            y = SHEEP_PARK_Y
            assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]
            assert env.get_state()[9] == SHEEP_PARK_Y
    opened_at, obs, info = _walk_to_lever(env)
    assert opened_at == 5  # agent at y = -0.1: 0.1 from the lever
    # the next observation shows the sheep again, at exactly its x, one step below the gate
    assert obs[OBS_SHEEP][0] == np.float32(sheep_x - 2.0)
    assert obs[OBS_SHEEP][1] == pytest.approx(SHEEP_PARK_Y - SHEEP_SPEED, abs=1e-6)
    assert info["gate_open"]
    up = np.array([0.0, 1.0, 1.0], np.float32)
    for _ in range(50):  # it walks on through the open gate to the floor
        obs, *_ = env.step(up)
    assert obs[OBS_SHEEP].tolist() == pytest.approx([sheep_x - 2.0, -1.0 + BODY_RADIUS], abs=1e-3)


@pytest.mark.parametrize("walk_first", [0, 3, 10, 30])
def test_sheep_reappears_at_the_open_gate_whenever_the_lever_is_pulled(walk_first):
    # reference: a hidden sheep is parked at y = 0 as soon as it is occluded, so its first visible
    # position is y = -0.025 whether the gate opens right after the occlusion or much later
    env = ShepherdEnv()
    env.reset(seed=0)
    state = env.get_state()
    height = 0.6
    state[0:2] = (-0.85, -0.6)
    state[8:10] = (1.7, height + 0.01)  # one step above the stable's top
    state[16] = height
    env.set_state(state)
    obs, *_ = env.step(HOLD)  # now below the top: hidden
    assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]
    for _ in range(walk_first):
        obs, *_ = env.step(HOLD)
        assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]
    _, obs, _ = _walk_to_lever(env)
    assert obs[OBS_SHEEP].tolist() == pytest.approx([1.7 - 2.0, SHEEP_PARK_Y - SHEEP_SPEED])


def test_sheep_caught_in_the_step_the_gate_opens_stays_hidden_as_in_the_reference():
    # cage dropped right under the parked sheep (0.05 below it); the agent reaches the lever in
    # this step: visibility is decided before the lever and the catch, so the caught sheep is
    # still observed as (0, 0), in this and every later step
    lx, ly = LEVER_POSITION
    env = _env((lx, ly - 0.25), (2.0, -0.05), (2.0, SHEEP_PARK_Y), carried=False)
    up = np.array([0.0, 1.0, -1.0], np.float32)
    obs, reward, terminated, _, info = env.step(up)
    assert info["gate_open"] and info["sheep_caught"] and (reward, terminated) == (1.0, True)
    assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]
    obs, *_ = env.step(up)
    assert obs[OBS_SHEEP].tolist() == [0.0, 0.0]


def test_cage_moves_with_the_agent_while_carried_and_stays_when_dropped():
    env = _env((0.0, -0.5), (0.02, -0.48), (2.0, 0.9))
    right = np.array([1.0, 0.0, 1.0], np.float32)
    obs0, *_ = env.step(HOLD)
    obs1, _, _, _, info = env.step(right)
    assert info["cage_carried"]
    np.testing.assert_allclose(obs1[OBS_CAGE] - obs0[OBS_CAGE], obs1[OBS_AGENT] - obs0[OBS_AGENT])
    # drop while moving: the cage still moves in the dropping step (movement comes first) ...
    obs2, _, _, _, info = env.step(np.array([1.0, 0.0, -0.3], np.float32))
    assert not info["cage_carried"]
    np.testing.assert_allclose(obs2[OBS_CAGE] - obs1[OBS_CAGE], [ACTION_SCALE / 2, 0], atol=1e-6)
    # ... and stays from then on, whatever a[2] is while the agent is 0.1 or more away from it
    for action in ([-1.0, 0.0, 1.0], [0.0, -1.0, 0.7], [1.0, 0.0, -1.0], [1.0, 0.0, 1.0]):
        obs3, _, _, _, info = env.step(np.array(action, np.float32))
        assert not info["cage_carried"]
        assert obs3[OBS_CAGE].tobytes() == obs2[OBS_CAGE].tobytes()


def test_drop_happens_at_zero_and_pick_up_needs_proximity_and_positive_grasp():
    env = _env((0.0, -0.5), (0.0, -0.5), (2.0, 0.9))
    assert not env.step(DROP)[4]["cage_carried"]  # a[2] = 0 counts as drop
    assert not env.step(DROP)[4]["cage_carried"]
    assert env.step(HOLD)[4]["cage_carried"]  # a[2] > 0 on top of the cage picks it up
    env = _env((0.0, -0.5), (0.15, -0.5), (2.0, 0.9), carried=False)
    assert not env.step(HOLD)[4]["cage_carried"]  # 0.15 away: too far
    obs, _, _, _, info = env.step(np.array([0.6, 0.0, 1.0], np.float32))
    assert info["cage_carried"]  # 0.09 away after the move: picked up
    # the cage did not move in the picking step, and follows from the next step on
    assert FIELD_NORMALIZATION.obs_to_world(obs[OBS_CAGE]) == pytest.approx([0.15, -0.5], abs=1e-6)
    obs, *_ = env.step(np.array([0.0, 1.0, 1.0], np.float32))
    assert FIELD_NORMALIZATION.obs_to_world(obs[OBS_CAGE]) == pytest.approx([0.15, -0.4], abs=1e-6)


def test_lever_opens_the_gate_for_good():
    lx, ly = LEVER_POSITION
    env = _env((lx + 0.35, ly - 0.05), (0.0, -0.5), (2.0, 0.9), carried=False)
    left = np.array([-1.0, 0.0, -1.0], np.float32)
    flags = [env.step(left)[4]["gate_open"] for _ in range(3)]
    assert flags == [False, True, True]  # 0.255, then 0.158 < 0.2 from the lever
    away = np.array([1.0, 0.0, -1.0], np.float32)
    assert all(env.step(away)[4]["gate_open"] for _ in range(10))


def test_sheep_walks_into_a_dropped_cage_and_is_caught_at_the_computed_step():
    # gate open, cage dropped at y = -0.5 under the sheep at y = 0.06: after k steps the sheep is
    # at 0.06 - 0.025 k; caught once within 0.1 of the cage, i.e. k = 19 (y = -0.415)
    env = _env((0.0, -0.5), (2.0, -0.5), (2.0, 0.06), gate=True, carried=False)
    for k in range(1, 19):
        _, reward, terminated, _, info = env.step(DROP)
        assert (reward, terminated, info["sheep_caught"]) == (0.0, False, False), k
    obs, reward, terminated, _, info = env.step(DROP)
    assert (reward, terminated, info["sheep_caught"]) == (1.0, True, True)
    assert obs[OBS_SHEEP][1] == pytest.approx(0.06 - 19 * SHEEP_SPEED, abs=1e-6)
    obs, *_ = env.step(DROP)  # the caught sheep is pulled down into the cage and stays there
    assert obs[OBS_SHEEP].tolist() == pytest.approx([0.0, -0.5], abs=1e-6)
    obs, *_ = env.step(DROP)
    assert obs[OBS_SHEEP].tolist() == pytest.approx([0.0, -0.5], abs=1e-6)


def test_no_catch_while_the_cage_is_carried_or_the_gate_closed():
    env = _env((2.0, -0.5), (2.0, -0.5), (2.0, -0.45), gate=True, carried=True)
    assert not env.step(HOLD)[4]["sheep_caught"]  # carried
    env = _env((2.0, -0.5), (2.0, 0.0), (2.0, 0.1), gate=False, carried=False)
    assert not env.step(DROP)[4]["sheep_caught"]  # gate closed


def test_start_variants_and_stable_height_ranges():
    env = ShepherdEnv()
    env.reset(seed=1)
    left = np.stack([env.reset(options={"start": "left"})[0] for _ in range(200)])
    right = np.stack([env.reset(options={"start": "right"})[0] for _ in range(200)])
    general = np.stack([env.reset(options={"generalize": True})[0] for _ in range(200)])
    world_x = lambda obs: FIELD_NORMALIZATION.obs_to_world(obs[:, OBS_AGENT])[:, 0]  # noqa: E731
    # start left: x ~ (U(-1, 1) - 0.5) * 4 + 1 clipped at -0.95: about half at the left wall
    assert 0.4 < np.mean(world_x(left) < -0.949) < 0.6
    assert np.all(world_x(right) >= 1.0)  # start right: x ~ U(-1, 1) + 2
    for obs in (left, right, general):
        ys = FIELD_NORMALIZATION.obs_to_world(obs[:, OBS_AGENT])[:, 1]
        assert np.all((ys >= -0.95) & (ys <= -0.05))
        np.testing.assert_allclose(  # the cage starts within 0.05 of the agent
            obs[:, OBS_CAGE] * 2, obs[:, OBS_AGENT] * 2, atol=0.05 * np.sqrt(2) + 1e-6
        )
        sheep = SHEEP_NORMALIZATION.obs_to_world(obs[:, OBS_SHEEP])
        assert np.all((sheep[:, 0] >= 1.5) & (sheep[:, 0] <= 2.5))
        assert np.all(np.abs(sheep[:, 1] - 0.95) <= 0.005 + 1e-6)
    heights = left[:, OBS_STABLE_HEIGHT]
    assert np.all((heights >= 0.35) & (heights <= 0.65))
    g = np.abs(general[:, OBS_STABLE_HEIGHT] - 0.5)
    assert np.all((g >= 0.15 - 1e-6) & (g <= 0.3 + 1e-6))
    assert 0.3 < np.mean(general[:, OBS_STABLE_HEIGHT] > 0.5) < 0.7


@pytest.mark.parametrize(
    "options, message",
    [({"start": "up"}, r"options\['start'\]"), ({"generalize": "yes"}, r"options\['generalize'\]")],
)
def test_bad_options_are_rejected(options, message):
    env = ShepherdEnv()
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


def test_planning_thresholds_can_be_widened_as_in_the_reference_wrapper():
    lx, ly = LEVER_POSITION
    left = np.array([-1.0, 0.0, -1.0], np.float32)
    for threshold, expected in ((0.2, False), (0.3, True)):  # agent 0.255 away after one step
        env = ShepherdEnv(lever_threshold=threshold)
        env.reset(seed=0)
        state = env.get_state()
        state[0:2] = (lx + 0.35, ly - 0.05)
        env.set_state(state)
        assert env.step(left)[4]["gate_open"] is expected
    for bad in (0.0, -1.0, float("nan"), "0.2"):
        with pytest.raises(ValueError, match="cage_threshold: expected a positive"):
            ShepherdEnv(cage_threshold=bad)
