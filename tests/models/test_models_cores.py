"""Every core behind the same interface: shapes, state packing, paths, gradients, persistence."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call

from mbplan.models import CORES, make_world_model
from mbplan.models.cells import unroll

GATED = {"gatel0rd"}
# two stacked layers for every core (GateL0RD: two cells with two internal layers each)
SMALL = {"hidden_size": 5, "feature_size": 6, "depth": 2, "num_layers": 2, "k": 2}
# smaller cell options where the defaults would make gradcheck slow (every mechanism still on)
SMALL_OPTIONS = {
    "riglstm": {
        "num_cells": 2,
        "active_cells": 1,
        "num_views": 2,
        "view_topk": 1,
        "comm_topk": 1,
        "view_size": 2,
        "key_size": 2,
    },
    "rims": {
        "num_blocks": 2,
        "topk": 1,
        "input_key_size": 2,
        "comm_key_size": 2,
        "comm_value_size": 2,
        "comm_heads": 2,
    },
}
# hidden sizes packed per layer: LSTM [h, c]; RigLSTM / RIMs [h, c] of each of its 2 (small) cells
STATE_FACTOR = {"lstm": 2, "riglstm": 2 * 2, "rims": 2 * 2}


def _model(core: str, obs_dim: int = 3, action_dim: int = 2, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    settings = {**SMALL, **SMALL_OPTIONS.get(core, {}), **overrides}
    return make_world_model(core, obs_dim, action_dim, **settings)


def _data(batch=4, time=9, obs_dim=3, action_dim=2, dtype=torch.float32, seed=0):
    generator = torch.Generator().manual_seed(seed)
    obs = torch.randn(batch, time, obs_dim, generator=generator, dtype=dtype)
    actions = torch.randn(batch, time, action_dim, generator=generator, dtype=dtype)
    return obs, actions


def _expected_state_size(core: str, model) -> int:
    hidden, layers = 5, model.hparams["num_layers"]
    return STATE_FACTOR.get(core, 1) * hidden * layers


@pytest.mark.parametrize("core", CORES)
def test_same_interface_and_shapes(core):
    model = _model(core).eval()
    obs, actions = _data()
    state_size = _expected_state_size(core, model)
    gate_size = 10 if core in GATED else 0
    assert model.state_size == state_size and model.gate_size == gate_size
    assert model.k == 2

    out = model(obs, actions, return_states=True)
    assert out.predictions.shape == (4, 9, 3)
    assert out.state.shape == (4, state_size)
    assert out.states.shape == (4, 9, state_size)
    assert torch.equal(out.states[:, -1], out.state)
    if core in GATED:
        assert out.gates.shape == (4, 9, gate_size)
    else:
        assert out.gates is None
    assert model(obs, actions).states is None

    h0 = model.initial_state(obs[:, :2], actions[:, :2])
    assert h0.shape == (4, state_size)
    pred, state, gates = model.step(obs[:, 0], actions[:, 0], h0)
    assert pred.shape == (4, 3) and state.shape == (4, state_size)
    assert (gates is None) == (core not in GATED)
    preds, final = model.rollout(state, obs[:, 1], actions[:, 1:7])
    assert preds.shape == (4, 6, 3) and final.shape == (4, state_size)
    regularization = model.regularization(out.gates)
    assert regularization.shape == ()
    if core in GATED:
        expected = 1e-3 * float(out.gates.detach().mean())
        assert float(regularization.detach()) == pytest.approx(expected)
    else:
        assert float(regularization) == 0.0


@pytest.mark.parametrize("core", CORES)
def test_state_packing_round_trip(core):
    model = _model(core).eval()
    obs, actions = _data()
    stack = model.core
    state = model(obs, actions).state
    layers = stack.split_state(state)
    assert [s.shape[-1] for s in layers] == stack.layer_state_sizes
    assert len(layers) == model.hparams["num_layers"] == 2
    assert torch.equal(stack.pack_state(layers), state)
    # the packed state is the whole memory: continuing from it equals continuing the sequence
    split = 5
    first = model(obs[:, :split], actions[:, :split])
    _, resumed = model.rollout(first.state, obs[:, split], actions[:, split : split + 1])
    full = model(obs[:, : split + 1], actions[:, : split + 1]).state
    torch.testing.assert_close(resumed, full, atol=1e-6, rtol=0)


def test_lstm_state_packs_h_then_c():
    model = _model("lstm", num_layers=1).eval()
    obs, actions = _data()
    h0 = model.initial_state(obs[:, :2], actions[:, :2])
    cell = model.core.cells[0]
    features = torch.randn(4, 6)
    y, state, _ = cell.step(features, h0)
    torch.testing.assert_close(y, state[:, :5])
    h, c = torch.lstm_cell(features, (h0[:, :5], h0[:, 5:]), *cell._weights())
    torch.testing.assert_close(state, torch.cat([h, c], dim=-1))


@pytest.mark.parametrize("core", CORES)
def test_fused_sequence_path_equals_step_path(core):
    model = _model(core).eval()
    obs, actions = _data(batch=6, time=12)
    fused = model(obs, actions, return_states=True)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    preds, states, gates = [], [], []
    for t in range(obs.shape[1]):
        pred, state, gate = model.step(obs[:, t], actions[:, t], state)
        preds.append(pred)
        states.append(state)
        gates.append(gate)
    torch.testing.assert_close(fused.predictions, torch.stack(preds, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(fused.states, torch.stack(states, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(fused.state, state, atol=1e-6, rtol=0)
    if core in GATED:
        assert torch.equal(fused.gates, torch.stack(gates, 1))


@pytest.mark.parametrize("core", CORES)
def test_core_sequence_path_equals_generic_unroll_in_training_mode(core):
    model = _model(core).train()
    stack = model.core
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(5, 10, 6, generator=generator)
    state = torch.randn(5, stack.state_size, generator=generator)
    noise = torch.randn(5, 10, stack.noise_size, generator=generator) if stack.noise_size else None
    assert (noise is not None) == (core in GATED)
    fused = stack.forward_sequence(x, state, noise, return_states=True)
    looped = unroll(stack.make_step_fn(), x, state, noise, return_states=True)
    for a, b in zip(fused, looped, strict=True):
        if a is None:
            assert b is None
        else:
            torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


@pytest.mark.parametrize("core", sorted(SMALL_OPTIONS))
def test_step_sequence_and_rollout_paths_agree_at_the_default_options(core):
    # the cores tested here at smaller options, at their own defaults (RigLSTM: the document's
    # sizes; RIMs: the official ones), one layer
    torch.manual_seed(8)
    model = make_world_model(core, 3, 2, hidden_size=4, feature_size=6, k=2).eval()
    obs, actions = _data(time=10, seed=9)
    fused = model(obs, actions, return_states=True)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    stepped = []
    for t in range(10):
        pred, state, _ = model.step(obs[:, t], actions[:, t], state)
        stepped.append(pred)
    torch.testing.assert_close(fused.predictions, torch.stack(stepped, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(fused.state, state, atol=1e-6, rtol=0)
    closed = model(obs, actions, teacher_prob=0.0)
    warm = model(obs[:, :2], actions[:, :2])
    preds, _ = model.rollout(warm.state, warm.predictions[:, -1], actions[:, 2:])
    torch.testing.assert_close(closed.predictions[:, 2:], preds, atol=1e-6, rtol=0)


@pytest.mark.parametrize("core", CORES)
def test_teacher_prob_zero_equals_rollout_after_k_steps(core):
    model = _model(core).eval()
    obs, actions = _data()
    closed = model(obs, actions, teacher_prob=0.0)
    k = model.k
    warm = model(obs[:, :k], actions[:, :k])
    preds, _ = model.rollout(warm.state, warm.predictions[:, -1], actions[:, k:])
    torch.testing.assert_close(closed.predictions[:, :k], warm.predictions)
    torch.testing.assert_close(closed.predictions[:, k:], preds, atol=1e-6, rtol=0)


@pytest.mark.parametrize("core", CORES)
def test_rollout_equals_a_loop_of_step_on_its_own_predictions(core):
    model = _model(core).eval()
    obs, actions = _data(batch=6, time=10)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    preds, final = model.rollout(state, obs[:, 0], actions)
    looped, current = [], obs[:, 0]
    for t in range(actions.shape[1]):
        current, state, _ = model.step(current, actions[:, t], state)
        looped.append(current)
    torch.testing.assert_close(preds, torch.stack(looped, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(final, state, atol=1e-6, rtol=0)


@pytest.mark.parametrize("core", CORES)
def test_rollout_in_training_mode_uses_the_same_gate_noise_as_a_loop_of_step(core):
    model = _model(core).train()
    obs, actions = _data(batch=3, time=5)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    preds, final = model.rollout(
        state, obs[:, 0], actions, generator=torch.Generator().manual_seed(4)
    )
    # the rollout draws (batch, horizon, noise_size) at once; step draws (batch, 1, noise_size)
    noise_size = model.core.noise_size
    draws = torch.randn(3, 5, noise_size, generator=torch.Generator().manual_seed(4))
    step_fn, current = model.core.make_step_fn(), obs[:, 0]
    looped = []
    for t in range(5):
        features = model.f_pre(torch.cat([actions[:, t], current], dim=-1))
        result = step_fn(features, state, draws[:, t] if noise_size else None)
        state = result.state
        current = current + 0.1 * model.f_post(result.output)
        looped.append(current)
    torch.testing.assert_close(preds, torch.stack(looped, 1), atol=1e-6, rtol=0)
    torch.testing.assert_close(final, state, atol=1e-6, rtol=0)


@pytest.mark.parametrize("core", CORES)
def test_gradcheck_of_every_cell_in_float64(core):
    model = _model(core, hidden_size=3, feature_size=4).double().eval()
    cell = model.core.cells[1]  # a deeper layer: its input is the layer below's output
    names = [name for name, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, cell.input_size, generator=generator, dtype=torch.float64)
    state = 0.5 * torch.randn(2, cell.state_size, generator=generator, dtype=torch.float64)

    def run(x, state, *values):
        sequence = functional_call(cell, dict(zip(names, values, strict=True)), (x, state))
        return sequence.outputs, sequence.state

    inputs = (x.requires_grad_(), state.requires_grad_(), *params)
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("core", CORES)
def test_gradcheck_of_the_world_model_with_teacher_forcing(core):
    model = _model(core, hidden_size=3, feature_size=4, obs_dim=2, action_dim=1).double().eval()
    obs, actions = _data(batch=2, time=4, obs_dim=2, action_dim=1, dtype=torch.float64)

    def run(obs, actions):
        out = model(obs, actions, teacher_prob=1.0)
        return out.predictions, out.state

    inputs = (obs.requires_grad_(), actions.requires_grad_())
    assert torch.autograd.gradcheck(run, inputs, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("core", CORES)
def test_state_dict_round_trip_with_weights_only_load(core, tmp_path):
    model = _model(core, seed=1).eval()
    obs, actions = _data()
    path = tmp_path / "model.pt"
    torch.save({"model": model.state_dict(), "hparams": model.hparams}, path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    torch.manual_seed(99)  # a different initialisation, overwritten by the load
    rebuilt = make_world_model(**checkpoint["hparams"]).eval()
    assert not torch.equal(rebuilt(obs, actions).predictions, model(obs, actions).predictions)
    rebuilt.load_state_dict(checkpoint["model"])
    assert torch.equal(rebuilt(obs, actions).predictions, model(obs, actions).predictions)


@pytest.mark.parametrize("core", CORES)
def test_float64_and_action_free_world(core):
    model = _model(core, obs_dim=2, action_dim=0).double().eval()
    obs, actions = _data(obs_dim=2, action_dim=0, dtype=torch.float64)
    out = model(obs, actions)
    assert out.predictions.dtype == torch.float64 and out.state.dtype == torch.float64
    preds, _ = model.rollout(out.state, obs[:, -1], torch.zeros(4, 5, 0, dtype=torch.float64))
    assert preds.shape == (4, 5, 2) and torch.isfinite(preds).all()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("core", CORES)
def test_cuda_rollout_has_no_host_synchronisation(core):
    model = _model(core).cuda().eval()
    obs, actions = _data()
    state = model(obs.cuda(), actions.cuda()).state
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with torch.no_grad():
            preds, _ = model.rollout(state, obs[:, -1].cuda(), actions.cuda(), check_nan=False)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert preds.device.type == "cuda"
