"""The gymnasium contract for every registered ``mbplan/*`` env (found from the registry)."""

from __future__ import annotations

import pickle
import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import sims

ENV_IDS = sorted(i for i in gym.registry if i.startswith("mbplan/"))


def test_registry_holds_the_four_worlds():
    assert ENV_IDS == sorted(sims.ENV_IDS)
    assert set(ENV_IDS) == {
        "mbplan/BilliardBall-v0",
        "mbplan/RobotRemoteControl-v0",
        "mbplan/Shepherd-v0",
        "mbplan/BouncingBalls-v0",
    }


def _actions(env: gym.Env, count: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = env.action_space.shape
    return [rng.uniform(-1.0, 1.0, shape).astype(np.float32) for _ in range(count)]


def _rollout(env: gym.Env, actions: list[np.ndarray]) -> list[np.ndarray]:
    """Observations over ``actions``; resets (without a seed) when the episode terminates."""
    observations = []
    for action in actions:
        obs, _, terminated, _, _ = env.step(action)
        observations.append(obs)
        if terminated:
            obs, _ = env.reset()
            observations.append(obs)
    return observations


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_check_env_passes_without_warnings(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped)
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_spaces_are_float32_and_finite(env_id):
    env = gym.make(env_id)
    for space in (env.observation_space, env.action_space):
        assert space.dtype == np.float32
        assert np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))
    assert np.all(env.action_space.low == -1.0) and np.all(env.action_space.high == 1.0)
    assert env.spec.max_episode_steps > 0
    obs, info = env.reset(seed=0)
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert set(env.unwrapped.flag_names) <= set(info)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_same_seed_and_actions_give_bit_identical_observations(env_id):
    first, second = (gym.make(env_id).unwrapped for _ in range(2))
    actions = _actions(first, 100, seed=1)
    obs_a, _ = first.reset(seed=123)
    obs_b, _ = second.reset(seed=123)
    assert obs_a.tobytes() == obs_b.tobytes()
    run_a, run_b = _rollout(first, actions), _rollout(second, actions)
    assert len(run_a) == len(run_b) >= 100
    assert all(a.tobytes() == b.tobytes() for a, b in zip(run_a, run_b, strict=True))
    assert first.get_state().tobytes() == second.get_state().tobytes()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_different_seeds_give_different_starts(env_id):
    env = gym.make(env_id).unwrapped
    starts = {env.reset(seed=seed)[0].tobytes() for seed in range(5)}
    assert len(starts) == 5


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_pickle_round_trip_continues_identically(env_id):
    env = gym.make(env_id)
    env.reset(seed=7)
    actions = _actions(env, 40, seed=2)
    for action in actions[:10]:
        env.step(action)
    clone = pickle.loads(pickle.dumps(env))
    assert clone.unwrapped.get_state().tobytes() == env.unwrapped.get_state().tobytes()
    run_a = _rollout(env.unwrapped, actions[10:])
    run_b = _rollout(clone.unwrapped, actions[10:])
    assert all(a.tobytes() == b.tobytes() for a, b in zip(run_a, run_b, strict=True))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_render_returns_frame_of_declared_shape(env_id):
    env = gym.make(env_id, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(env.action_space.sample())
    frame = env.render()
    assert frame.dtype == np.uint8
    assert frame.shape == env.unwrapped.render_shape
    assert frame.shape[2] == 3 and frame.shape[0] > 50 and frame.shape[1] > 50
    colors = frame.reshape(-1, 3).astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    assert len(np.unique(colors)) > 3  # something is drawn
    assert gym.make(env_id).unwrapped.render() is None  # render_mode None


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_render_mode_is_rejected(env_id):
    env_class = type(gym.make(env_id).unwrapped)
    with pytest.raises(ValueError, match="render_mode: expected None or one of"):
        env_class(render_mode="ascii")


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_actions_raise_value_errors_naming_the_problem(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    dim = env.action_space.shape[0]
    with pytest.raises(ValueError, match=rf"shape \({dim},\), got \({dim + 1},\)"):
        env.step(np.zeros(dim + 1, np.float32))
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((1, dim), np.float32))
    with pytest.raises(ValueError, match="floating-point dtype, got int64"):
        env.step(np.zeros(dim, np.int64))
    with pytest.raises(ValueError, match="dtype"):
        env.step(np.array(["a"] * dim, dtype=object) if dim else np.zeros(0, dtype=bool))
    if dim:
        for bad in (np.nan, np.inf, -np.inf):
            action = np.zeros(dim, np.float32)
            action[-1] = bad
            with pytest.raises(ValueError, match="finite"):
                env.step(action)
    # a rejected action leaves the env usable
    obs, *_ = env.step(np.zeros(dim, np.float32))
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_step_before_reset_raises(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.zeros(env.action_space.shape, np.float32))
    with pytest.raises(RuntimeError, match="before reset"):
        env.get_state()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_unknown_reset_option_is_rejected(env_id):
    env = gym.make(env_id).unwrapped
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['colour'\]"):
        env.reset(seed=0, options={"colour": "red"})


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_get_state_set_state_round_trip_is_bit_exact(env_id):
    for seed in range(5):
        env = gym.make(env_id).unwrapped
        env.reset(seed=seed)
        actions = _actions(env, 40, seed=seed + 10)
        for action in actions[:20]:
            env.step(action)
        state = env.get_state()
        assert state.dtype == np.float64 and state.shape == (len(env.state_names),)
        after = [env.step(a)[0] for a in actions[20:]]

        # restore into the same env, and into a fresh env that is in another episode
        other = gym.make(env_id).unwrapped
        other.reset(seed=seed + 100)
        other.step(actions[0])
        for target in (env, other):
            target.set_state(state)
            assert target.get_state().tobytes() == state.tobytes()
            replay = [target.step(a)[0] for a in actions[20:]]
            assert np.stack(replay).tobytes() == np.stack(after).tobytes()


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_set_state_rejects_bad_states(env_id):
    env = gym.make(env_id).unwrapped
    env.reset(seed=0)
    state = env.get_state()
    with pytest.raises(ValueError, match="state: expected shape"):
        env.set_state(state[:-1])
    with pytest.raises(ValueError, match="floating-point"):
        env.set_state(state.astype(np.int64))
    bad = state.copy()
    bad[0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        env.set_state(bad)
    assert env.get_state().tobytes() == state.tobytes()  # rejected states change nothing


def test_unknown_id_gets_gymnasiums_error():
    with pytest.raises(gym.error.NameNotFound, match="Did you mean: `Shepherd`"):
        gym.make("mbplan/shepherd-v0")
