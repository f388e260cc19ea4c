"""N-step errors, gate statistics and the reappearance error against hand computations."""

from __future__ import annotations

import json
from typing import NamedTuple

import pytest
import torch
from torch import nn

from mbplan.data.tensors import SequenceTensors
from mbplan.evaluation.gates import gate_statistics
from mbplan.evaluation.prediction import evaluate_prediction, predict, step_errors
from mbplan.evaluation.reappearance import reappearance_error


class Output(NamedTuple):
    predictions: torch.Tensor
    state: torch.Tensor
    gates: torch.Tensor | None
    states: torch.Tensor | None


class ScriptedModel(nn.Module):
    """A world model with a hand-written step rule, honouring k and the teacher mask.

    ``rule(x_t, state) -> (prediction, state)``; the input after the first k steps is the model's
    own previous prediction unless ``teacher_mask`` says real.
    """

    def __init__(self, rule, k: int = 2) -> None:
        super().__init__()
        self.k = k
        self.rule = rule
        self.masks: list[torch.Tensor] = []

    def initial_state(self, obs_context, act_context):
        return obs_context[:, -1] - obs_context[:, 0]  # (B, obs_dim): displacement over context

    def forward(
        self,
        obs,
        actions,
        teacher_prob=1.0,
        *,
        teacher_mask=None,
        generator=None,
        return_states=False,
    ):
        batch, time, _ = obs.shape
        if teacher_mask is None:
            teacher_mask = torch.full((batch, time), teacher_prob >= 1.0)
        mask = teacher_mask.clone()
        mask[:, : self.k] = True
        self.masks.append(mask)
        state = self.initial_state(obs[:, : self.k], actions[:, : self.k])
        predictions, states, previous = [], [], None
        for t in range(time):
            x = (
                obs[:, t]
                if previous is None
                else torch.where(mask[:, t, None], obs[:, t], previous)
            )
            previous, state = self.rule(x, state)
            predictions.append(previous)
            states.append(state)
        gates = torch.zeros(batch, time, 1)
        return Output(
            torch.stack(predictions, 1),
            state,
            gates,
            torch.stack(states, 1) if return_states else None,
        )


def copy_last(x, state):
    return x, state


def constant_velocity(x, state):
    # state = displacement over k-1 steps; with k = 2 that is the velocity
    return x + state, state


def line_data(n: int = 3, steps: int = 6) -> SequenceTensors:
    """o_t = start + t * velocity, with small integers so that float32 arithmetic is exact."""
    start = torch.tensor([[0.0, 1.0], [2.0, -1.0], [5.0, 5.0]])[:n]
    velocity = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, 1.0]])[:n]
    t = torch.arange(steps + 1, dtype=torch.float32)
    observations = start[:, None] + t[None, :, None] * velocity[:, None]
    return SequenceTensors(
        observations=observations,
        actions=torch.zeros(n, steps, 0),
        flags=torch.zeros(n, steps + 1, 0),
        subset=torch.tensor([0, 1, 1])[:n],
        subset_names=("a", "b"),
    )


def test_oracle_model_has_zero_error_at_every_step():
    data = line_data()
    result = evaluate_prediction(ScriptedModel(constant_velocity), data)
    assert result["mse"] == 0.0
    assert result["mse_per_step"] == [0.0] * 6
    assert all(entry["mse"] == 0.0 for entry in result["subsets"].values())


def test_copy_last_predictor_matches_hand_computation():
    # k = 2: inputs o_0, o_1 real; afterwards the model's own prediction, which stays o_1.
    # prediction at step t: o_t for t < 2, o_1 for t >= 2. Error = (pred - o_{t+1})^2 = (d * v)^2
    # with d = 1 for t < 2 and d = t for t >= 2 (o_{t+1} - o_1 = t v).
    data = line_data()
    result = evaluate_prediction(ScriptedModel(copy_last), data)
    speed_sq = [1.0, 4.0, 2.0]  # |v|^2 per sequence
    mean_v_sq_per_dim = sum(speed_sq) / 3 / 2  # averaged over 3 sequences and 2 dims
    distances = [1, 1, 2, 3, 4, 5]
    expected = [d * d * mean_v_sq_per_dim for d in distances]
    assert result["mse_per_step"] == pytest.approx(expected, rel=1e-12)
    assert result["mse"] == pytest.approx(sum(expected) / 6, rel=1e-12)
    # subset "b" holds sequences 1 and 2 only
    b_v_sq = sum(speed_sq[1:]) / 2 / 2
    assert result["subsets"]["b"]["mse_per_step"] == pytest.approx(
        [d * d * b_v_sq for d in distances]
    )
    assert result["subsets"]["a"]["n"] == 1 and result["subsets"]["b"]["n"] == 2
    json.dumps(result)  # the result is plain JSON


def test_horizon_cuts_the_sequences_and_predict_uses_no_teacher_after_k():
    data = line_data()
    model = ScriptedModel(copy_last)
    result = evaluate_prediction(model, data, horizon=3)
    assert result["horizon"] == 3 and len(result["mse_per_step"]) == 3
    assert model.masks[-1].tolist() == [[True, True, False]] * 3
    with pytest.raises(ValueError, match="steps"):
        evaluate_prediction(model, data, horizon=7)


def test_predict_restores_training_mode_and_batches_consistently():
    data = line_data()
    model = ScriptedModel(copy_last).train()
    whole = predict(model, data).predictions
    chunked = predict(model, data, batch_size=1).predictions
    assert model.training
    assert torch.equal(whole, chunked)


def test_step_errors_rejects_misaligned_shapes():
    data = line_data()
    with pytest.raises(ValueError, match="predictions"):
        step_errors(data.observations, data.observations)


def test_gate_statistics_hand_example():
    # 2 sequences, 3 steps, 2 gates
    gates = torch.tensor(
        [
            [[1.0, 0.0], [0.0, 0.0], [1.0, 1.0]],  # open at steps 0, 2; dims 0, 1 used
            [[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]],  # open at step 2; dim 1 used
        ]
    )
    stats = gate_statistics(gates)
    assert stats["gate_rate"] == pytest.approx(4 / 12)
    assert stats["open_step_fraction"] == pytest.approx(3 / 6)
    assert stats["dims_used"] == pytest.approx(3 / 4)
    assert stats["openings_per_sequence"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="gates"):
        gate_statistics(gates[0])


def test_reappearance_error_scores_the_prediction_of_the_first_visible_observation():
    # one dimension; the "sheep" x is 0 while hidden, the gate flag switches on at s = 3 while the
    # sheep is still hidden there (as in the env), and it is visible (7) from index 4
    steps = 5
    observations = torch.tensor([[0.0, 0.0, 0.0, 0.0, 7.0, 7.0]]).reshape(1, steps + 1, 1)
    gate = torch.tensor([[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]]).reshape(1, steps + 1, 1)
    closed_throughout = SequenceTensors(
        observations=torch.zeros(1, steps + 1, 1),
        actions=torch.zeros(1, steps, 0),
        flags=torch.zeros(1, steps + 1, 1),
        subset=torch.zeros(1, dtype=torch.long),
        flag_names=("gate_open",),
    )
    opened = SequenceTensors(
        observations=observations,
        actions=torch.zeros(1, steps, 0),
        flags=gate,
        subset=torch.zeros(1, dtype=torch.long),
        flag_names=("gate_open",),
    )
    model = ScriptedModel(lambda x, state: (x + 2.0, state), k=1)
    result = reappearance_error(model, opened, dimension=0)
    # real inputs o_0..o_2 = 0 -> prediction of o_3 is 2; the input at s = 3 is that own
    # prediction, so the prediction of o_4 is 4; the truth is 7
    assert result["n"] == 1
    assert result["mse"] == pytest.approx(9.0)
    # real inputs exactly while the gate was closed at the input step (t < 3)
    assert model.masks[-1].tolist() == [[True, True, True, False, False]]
    assert reappearance_error(model, closed_throughout, dimension=0)["n"] == 0
    last = gate.clone()
    last[0, :-1] = 0.0  # opens at the last index: no later observation to score
    at_end = SequenceTensors(
        observations=observations,
        actions=torch.zeros(1, steps, 0),
        flags=last,
        subset=torch.zeros(1, dtype=torch.long),
        flag_names=("gate_open",),
    )
    assert reappearance_error(model, at_end, dimension=0)["n"] == 0
    with pytest.raises(ValueError, match="flag"):
        reappearance_error(model, opened, flag="sheep_caught")


def test_reappearance_error_of_copy_last_on_the_real_shepherd_env_is_the_sheep_x_variance(
    shepherd_sequences,
):
    # a predictor without memory cannot know where the sheep comes back: its error is
    # E[(sheep x - 2)^2] = Var U(-0.5, 0.5) = 1/12 ~ 0.083, not 0 (which scoring the still-hidden
    # observation of the switching step would give)
    data = shepherd_sequences(1000)
    # as the dataset's gate-open subsets: closed at t = 30, so the sheep is hidden when it opens
    data = data.select(data.flags[:, 30, 0] < 0.5)
    result = reappearance_error(ScriptedModel(copy_last, k=2), data)
    assert result["n"] >= 50
    errors = torch.tensor(result["errors"])
    assert (errors > 0).float().mean() > 0.95
    # 1/12 within 3 standard errors (U^2 for U ~ U(-0.5, 0.5) has std 1/sqrt(180))
    assert abs(result["mse"] - 1 / 12) < 3 / (180 * result["n"]) ** 0.5
