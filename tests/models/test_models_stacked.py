"""Stacked world models: the explicit Elman/GRU/LSTM formulation equals torch's fused kernels, and
the mapped loss of K stacked models equals each model's own loss."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import make_world_model
from mbplan.models.cells import ElmanCell, GRUCell, LSTMCell
from mbplan.models.stacked import StackedWorldModel
from mbplan.training.loss import prediction_loss

SMALL = {"hidden_size": 5, "feature_size": 6, "depth": 1, "f_pre_layers": 2, "k": 1}
CORES = ("gatel0rd", "elman", "gru", "lstm", "brc", "nbrc")


@pytest.mark.parametrize("cell_class", [ElmanCell, GRUCell, LSTMCell])
def test_explicit_formulation_equals_the_fused_kernels(cell_class):
    torch.manual_seed(0)
    cell = cell_class(3, 4)
    x = torch.randn(2, 7, 3)
    state = torch.randn(2, cell.state_size)
    fused = cell.forward_sequence(x, state)
    fused_step = cell.step(x[:, 0], state)
    cell.fused_kernels = False
    explicit = cell.forward_sequence(x, state)
    explicit_step = cell.step(x[:, 0], state)
    torch.testing.assert_close(explicit.outputs, fused.outputs, rtol=0, atol=1e-6)
    torch.testing.assert_close(explicit.state, fused.state, rtol=0, atol=1e-6)
    torch.testing.assert_close(explicit_step.state, fused_step.state, rtol=0, atol=1e-6)
    assert not torch.equal(explicit.state, torch.zeros_like(explicit.state))


@pytest.mark.parametrize("core", CORES)
def test_stacked_loss_equals_every_members_own_loss(core):
    models, lambdas = [], [1e-3, 5e-2, 0.0]
    for seed, reg_lambda in enumerate(lambdas):
        torch.manual_seed(seed)
        extra = {"gate_noise_level": 0.1 * (seed + 1)} if core == "gatel0rd" else {}
        models.append(make_world_model(core, 3, 2, **SMALL, reg_lambda=reg_lambda, **extra))
    generator = torch.Generator().manual_seed(0)
    obs = torch.randn(3, 4, 6, 3, generator=generator)
    actions = torch.randn(3, 4, 5, 2, generator=generator)
    mask = torch.rand(3, 4, 5, generator=generator) < 0.5
    mask[:, :, 0] = True
    noise_size = models[0].train().core.noise_size
    noise = torch.randn(3, 4, 5, noise_size, generator=generator) if noise_size else None
    stack = StackedWorldModel(models)
    for with_mask in (mask, None):
        terms = stack.loss(obs, actions, with_mask, noise, prediction_loss)
        for k, model in enumerate(models):
            model.train()
            output = model.forward_drawn(
                obs[k, :, :-1],
                actions[k],
                None if with_mask is None else with_mask[k],
                None if noise is None else noise[k],
            )
            own = prediction_loss(model, output, obs[k, :, 1:])
            torch.testing.assert_close(terms.total[k], own.total, rtol=1e-6, atol=0)
            torch.testing.assert_close(terms.mse[k], own.mse, rtol=1e-6, atol=0)


def test_models_of_different_architectures_do_not_stack():
    a = make_world_model("gru", 3, 2, **SMALL)
    b = make_world_model("gru", 3, 2, **{**SMALL, "hidden_size": 6})
    with pytest.raises(ValueError, match="member 1 has another architecture"):
        StackedWorldModel([a, b])
