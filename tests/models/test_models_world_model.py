"""The world model around a core: Fig. 1d wiring, f_init, scheduled sampling and rollouts."""

from __future__ import annotations

import pytest
import torch

from mbplan.models import make_world_model


def _model(core="gru", obs_dim=3, action_dim=2, **overrides):
    torch.manual_seed(0)
    kwargs = {"hidden_size": 4, "feature_size": 6, "k": 2, **overrides}
    return make_world_model(core, obs_dim, action_dim, **kwargs).eval()


def _data(batch=5, time=8, obs_dim=3, action_dim=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, time, obs_dim, generator=generator),
        torch.randn(batch, time, action_dim, generator=generator),
    )


def test_prediction_is_input_plus_a_tenth_of_f_post():
    model = _model()
    with torch.no_grad():
        model.f_post[0].weight.zero_()
        model.f_post[0].bias.copy_(torch.tensor([1.0, -2.0, 3.0]))
    obs, actions = _data()
    expected = obs + 0.1 * torch.tensor([1.0, -2.0, 3.0])
    torch.testing.assert_close(model(obs, actions).predictions, expected)
    # autoregressive: each step adds the same delta to the previous prediction
    preds, _ = model.rollout(model(obs, actions).state, obs[:, 0], actions[:, :4])
    steps = torch.arange(1, 5, dtype=torch.float32).view(1, 4, 1)
    torch.testing.assert_close(preds, obs[:, :1] + steps * 0.1 * torch.tensor([1.0, -2.0, 3.0]))


def test_f_pre_reads_actions_first_then_observations():
    model = _model()
    obs, actions = _data()
    out = model(obs, actions, return_states=True)
    # recompute by hand: x_t = (a_t, o_t) through f_pre, the core, f_post
    state = model.initial_state(obs[:, :2], actions[:, :2])
    features = model.f_pre(torch.cat([actions, obs], dim=-1))
    sequence = model.core(features, state, return_states=True)
    torch.testing.assert_close(out.predictions, obs + 0.1 * model.f_post(sequence.outputs))
    torch.testing.assert_close(out.states, sequence.states)


@pytest.mark.parametrize("core", ["gatel0rd", "lstm"])
def test_f_init_sets_every_layer_from_the_first_k_inputs_in_time_order(core):
    model = _model(core, num_layers=2, f_init_layers=3)
    obs, actions = _data()
    context = torch.cat([actions[:, 0], obs[:, 0], actions[:, 1], obs[:, 1]], dim=-1)
    expected = torch.cat([f_init(context) for f_init in model.f_init], dim=-1)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    torch.testing.assert_close(state, expected)
    assert state.shape == (5, model.state_size)
    widths = [layer.out_features for layer in model.f_init[0] if isinstance(layer, torch.nn.Linear)]
    layer_state = 8 if core == "lstm" else 4
    assert widths == [24, 12, layer_state]  # 4F, 2F, then the layer's state size
    assert model.f_init[0][0].in_features == 2 * (2 + 3)


def test_without_f_init_the_initial_state_is_zero():
    model = _model(f_init_layers=0)
    obs, actions = _data()
    assert model.f_init is None
    assert torch.equal(model.initial_state(obs[:, :2], actions[:, :2]), torch.zeros(5, 4))


def test_teacher_prob_zero_ignores_observations_after_the_first_k():
    model = _model()
    obs, actions = _data()
    changed = obs.clone()
    changed[:, 2:] += 10.0
    closed = model(obs, actions, teacher_prob=0.0).predictions
    assert torch.equal(model(changed, actions, teacher_prob=0.0).predictions, closed)
    forced = model(changed, actions, teacher_prob=1.0).predictions
    assert not torch.allclose(forced[:, 2:], closed[:, 2:])
    assert torch.equal(forced[:, :2], closed[:, :2])


def test_scheduled_sampling_draws_real_inputs_with_teacher_prob_from_the_generator():
    model = _model(core="elman", k=2)
    obs, actions = _data(batch=6, time=10)
    sampled = model(obs, actions, 0.4, generator=torch.Generator().manual_seed(7)).predictions
    # the documented draw: U(0, 1) of shape (batch, time) from the generator, real where U < p
    mask = torch.rand((6, 10), generator=torch.Generator().manual_seed(7)) < 0.4
    mask[:, :2] = True
    replayed = model(obs, actions, teacher_mask=mask).predictions
    assert torch.equal(sampled, replayed)
    assert not mask[:, 2:].all() and mask[:, 2:].any()


def test_teacher_mask_false_in_the_first_k_steps_is_overridden():
    model = _model()
    obs, actions = _data()
    mask = torch.zeros(5, 8, dtype=torch.bool)
    by_mask = model(obs, actions, teacher_mask=mask).predictions
    assert torch.equal(by_mask, model(obs, actions, teacher_prob=0.0).predictions)
    all_real = model(obs, actions, teacher_mask=torch.ones(5, 8, dtype=torch.bool))
    assert torch.equal(all_real.predictions, model(obs, actions).predictions)


def test_teacher_fraction_matches_teacher_prob_statistically():
    model = _model(k=1)
    generator = torch.Generator().manual_seed(11)
    like = torch.zeros(1)
    mask = model._teacher_mask(2000, 50, 0.3, None, generator, like)
    assert mask[:, 0].all()
    # 2000 x 49 Bernoulli(0.3) draws: standard error 0.0015, tolerance > 6 standard errors
    assert float(mask[:, 1:].float().mean()) == pytest.approx(0.3, abs=0.01)


def test_scheduled_sampling_and_gate_noise_need_an_explicit_generator():
    obs, actions = _data()
    with pytest.raises(ValueError, match="generator"):
        _model()(obs, actions, teacher_prob=0.5)
    gated = _model("gatel0rd").train()
    with pytest.raises(ValueError, match="generator"):
        gated(obs, actions)
    with pytest.raises(ValueError, match="generator"):
        gated.rollout(torch.zeros(5, 4), obs[:, 0], actions)
    gated(obs, actions, generator=torch.Generator())  # fine with one


def test_rollout_does_not_mutate_its_inputs_and_runs_under_no_grad():
    model = _model("gatel0rd")
    obs, actions = _data()
    state = model(obs, actions).state.detach()
    copies = [t.clone() for t in (state, obs[:, -1], actions)]
    with torch.no_grad():
        preds, new_state = model.rollout(state, obs[:, -1], actions)
    for original, copy in zip((state, obs[:, -1], actions), copies, strict=True):
        assert torch.equal(original, copy)
    assert not preds.requires_grad and not torch.equal(new_state, state)
    # the inference-mode fast path hands back ordinary tensors, usable in place and in autograd
    assert not preds.is_inference() and not new_state.is_inference()
    preds.add_(1.0)
    with_grad, _ = model.rollout(state, obs[:, -1], actions)
    torch.testing.assert_close(preds - 1.0, with_grad.detach(), atol=1e-6, rtol=0)


def test_rollout_lets_gradients_flow_to_actions_when_asked():
    model = _model("gatel0rd")
    obs, actions = _data()
    actions = actions.clone().requires_grad_()
    preds, _ = model.rollout(model(obs, actions).state.detach(), obs[:, -1], actions)
    preds.sum().backward()
    assert actions.grad is not None and actions.grad.abs().sum() > 0


def test_step_filters_real_observations_like_forward():
    model = _model("gatel0rd", num_layers=2)
    obs, actions = _data()
    out = model(obs, actions)
    state = model.initial_state(obs[:, :2], actions[:, :2])
    for t in range(8):
        pred, state, gates = model.step(obs[:, t], actions[:, t], state)
    torch.testing.assert_close(pred, out.predictions[:, -1], atol=1e-6, rtol=0)
    assert torch.equal(gates, out.gates[:, -1])


def test_regularization_is_lambda_times_mean_theta():
    model = _model("gatel0rd", reg_lambda=0.25)
    gates = torch.tensor([[[1.0, 0.0], [1.0, 1.0]]])
    assert float(model.regularization(gates)) == pytest.approx(0.25 * 0.75)
    baseline = _model("gru", reg_lambda=0.25)
    zero = baseline.regularization(None)
    assert zero.shape == () and float(zero) == 0.0


def test_k_zero_starts_from_zeros_and_feeds_the_first_real_observation():
    model = _model("gatel0rd", k=0)
    obs, actions = _data()
    assert model.f_init is None
    assert torch.equal(model.initial_state(obs[:, :0], actions[:, :0]), torch.zeros(5, 4))
    closed = model(obs, actions, teacher_prob=0.0).predictions
    preds, _ = model.rollout(torch.zeros(5, 4), obs[:, 0], actions)
    torch.testing.assert_close(closed, preds, atol=1e-6, rtol=0)
