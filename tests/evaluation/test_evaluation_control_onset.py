"""RRC control-onset probe on the real env: the simulator scores exactly, learned models not."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mbplan.evaluation.control_onset import control_onset_response
from mbplan.evaluation.report import load_run_model

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "checkpoints" / "rrc_20k"


@pytest.mark.parametrize("after", [0, 2])
def test_the_simulator_as_the_model_responds_exactly_and_never_moves_the_robot_early(after):
    result = control_onset_response(None, episodes=6, seed=10, after=after)
    np.testing.assert_allclose(result.response, 1.0, atol=1e-5)
    assert result.registered == 1.0
    assert result.mean_false_motion == 0.0
    assert result.seeds == list(range(10, 16))


def test_a_learned_model_gets_a_response_per_episode_and_its_summary():
    model, _ = load_run_model(SHIPPED / "gatel0rd_ss_s0", which="best", device="cpu")
    result = control_onset_response(model.eval(), episodes=8, after=1, horizon=4)
    response = np.asarray(result.response)
    assert response.shape == (8,) and np.isfinite(response).all() and (response >= 0).all()
    assert result.mean_response == pytest.approx(response.mean())
    assert result.registered == pytest.approx(np.mean(response > 0.5))
    motion = np.asarray(result.false_motion)
    assert (motion[np.isfinite(motion)] >= 0).all()
    assert math.isfinite(result.mean_false_motion)
    assert result.to_dict()["horizon"] == 4
    # a learned model is not the simulator: its predicted robot motion after the onset differs
    assert np.abs(response - 1.0).max() > 0.05


def test_bad_counts_are_refused():
    with pytest.raises(ValueError, match="episodes >= 1"):
        control_onset_response(None, episodes=0)
    with pytest.raises(ValueError, match="lead"):
        control_onset_response(None, lead=0)
