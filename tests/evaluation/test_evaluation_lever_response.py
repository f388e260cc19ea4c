"""Shepherd lever-response probe on the real env: the simulator is exact, learned models are not."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import sims  # noqa: F401
from mbplan.evaluation.lever_response import (
    LEVER_OBS,
    _out,
    _to_lever,
    lever_response,
    release_rollout,
)
from mbplan.evaluation.report import load_run_model

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "shepherd_15k"


def test_the_lever_in_observation_coordinates():
    # world (-0.85, 0) -> ((x - 1) / 2, (y + 0.5) / 2)
    np.testing.assert_allclose(LEVER_OBS, [-0.925, 0.25])


def test_out_reads_the_sheep_below_the_cost_line_and_a_hidden_sheep_as_in():
    obs = np.zeros((4, 7))
    obs[:, 5] = [0.0, -0.05, -0.1, -0.3]  # hidden (0, 0), just out of the gate, at the line, below
    np.testing.assert_array_equal(_out(obs), [False, False, True, True])


def test_the_scripted_approach_ends_at_the_step_the_gate_opens():
    env = gym.make("mbplan/Shepherd-v0")
    observations, actions, snapshots = _to_lever(env, 3)
    assert len(observations) == len(actions) + 1 == len(snapshots) + 1
    assert env.unwrapped.gate_open
    agent = np.asarray(observations[-1][:2], dtype=np.float64)
    # within the lever's 0.2 world units (observation units are half-sized)
    assert np.linalg.norm((agent - LEVER_OBS) * 2.0) < 0.2
    before = np.asarray(observations[-2][:2], dtype=np.float64)
    assert np.linalg.norm((before - LEVER_OBS) * 2.0) >= 0.2
    assert all(a[2] == 1.0 for a in actions)  # the cage stays held


def test_the_simulator_as_the_model_releases_exactly_and_never_falsely():
    result = lever_response(None, episodes=6, seed=10)
    assert result.registered == [True] * 6
    assert result.timing == [0.0] * 6
    np.testing.assert_allclose(result.sheep_error, 0.0, atol=1e-6)
    assert result.false_release == [False] * 6
    assert result.seeds == list(range(10, 16))
    assert (result.registered_rate, result.mean_timing, result.false_release_rate) == (1, 0, 0)


def test_learned_models_get_per_episode_values_and_are_not_the_simulator():
    delays = {}
    for core in ("gatel0rd", "lstm"):
        model, _ = load_run_model(SHIPPED / f"{core}_ss_s0", which="best", device="cpu")
        result = lever_response(model.eval(), episodes=8)
        error = np.asarray(result.sheep_error)
        assert error.shape == (8,) and np.isfinite(error).all()
        assert result.mean_sheep_error == pytest.approx(error.mean())
        assert result.registered_rate == pytest.approx(np.mean(result.registered))
        timing = np.asarray(result.timing)
        assert np.isnan(timing[~np.asarray(result.registered)]).all()
        assert np.isfinite(timing[np.asarray(result.registered)]).all()
        # a model trained for 15k updates is not the simulator: its sheep is off the real one
        assert error.mean() > 0.05
        delays[core] = result.mean_timing
        assert result.to_dict()["wait"] == 25
    # both let the sheep out late on these episodes (measured: GateL0RD ~8, LSTM ~5 steps)
    assert delays["gatel0rd"] > 0 and delays["lstm"] > 0


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="wait >= 5"):
        lever_response(None, wait=3)
    with pytest.raises(ValueError, match="episodes >= 1"):
        lever_response(None, episodes=0)


def test_a_parked_sheep_is_seen_again_in_the_observation_after_the_gate_opens():
    env, sim = gym.make("mbplan/Shepherd-v0"), gym.make("mbplan/Shepherd-v0")
    sim.reset(seed=0)
    lead = 4
    parked = 0
    for seed in range(6):
        predicted, real, (observations, actions, _, cut) = release_rollout(
            None, env, sim, seed, lead=lead, wait=10
        )
        assert cut == len(actions) - lead and real.shape == predicted.shape == (lead + 10, 7)
        if np.any(observations[cut][4:6] != 0):  # the sheep still walking down: not this case
            continue
        parked += 1
        # hidden through the observation in which the gate opens (rollout index lead - 1) ...
        np.testing.assert_array_equal(real[:lead, 4:6], 0.0)
        # ... then at its x, one step below the gate, walking down 0.025 per step
        assert real[lead, 5] == pytest.approx(-0.025, abs=1e-3)
        np.testing.assert_allclose(np.diff(real[lead:, 5]), -0.025, atol=1e-3)
        assert np.ptp(real[lead:, 4]) == pytest.approx(0.0, abs=1e-6)
    assert parked >= 3
