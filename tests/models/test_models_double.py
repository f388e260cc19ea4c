"""The double layer: two cells on one input, both paths agree, world models build with it."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import CORES, make_world_model
from mbplan.models.cells import DoubleCell, GRUCell, LSTMCell


def test_double_layer_is_its_two_halves_side_by_side():
    torch.manual_seed(0)
    double = DoubleCell(LSTMCell(3, 2), GRUCell(3, 4))
    assert (double.output_size, double.state_size) == (6, 8)
    x = torch.randn(2, 5, 3)
    state = torch.randn(2, 8)
    sequence = double.forward_sequence(x, state, return_states=True)
    first = double.halves[0].forward_sequence(x, state[:, :4], return_states=True)
    second = double.halves[1].forward_sequence(x, state[:, 4:], return_states=True)
    torch.testing.assert_close(sequence.outputs, torch.cat([first.outputs, second.outputs], -1))
    torch.testing.assert_close(sequence.states, torch.cat([first.states, second.states], -1))
    step = double.step(x[:, 0], state)
    torch.testing.assert_close(step.state, sequence.states[:, 0])


@pytest.mark.parametrize("core", CORES)
def test_world_models_build_with_double_layers(core):
    torch.manual_seed(0)
    model = make_world_model(core, obs_dim=3, action_dim=1, hidden_size=4, depth=2, double=True)
    assert all(isinstance(cell, DoubleCell) for cell in model.core.cells)
    obs, actions = torch.randn(2, 6, 3), torch.randn(2, 6, 1)
    model.eval()
    teacher = model(obs, actions, 1.0, return_states=True)
    state = model.initial_state(obs[:, : model.k], actions[:, : model.k])
    for t in range(6):  # the step path (autoregressive loop) equals the sequence path
        prediction, state, _ = model.step(obs[:, t], actions[:, t], state)
        torch.testing.assert_close(prediction, teacher.predictions[:, t], rtol=1e-5, atol=1e-6)
    rebuilt = make_world_model(**model.hparams)
    assert rebuilt.hparams == model.hparams and rebuilt.state_size == model.state_size
    with pytest.raises(ValueError, match="hidden_size"):
        make_world_model(core, obs_dim=3, action_dim=1, hidden_size=5, double=True)
