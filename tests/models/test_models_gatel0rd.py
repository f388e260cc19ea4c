"""GateL0RD cell: the paper's equations (Eqs. 6-10), gates, noise and the straight-through path."""

from __future__ import annotations

import math

import pytest
import torch

from mbplan.models.cells import GateL0RDCell, heaviside_st


def _lambda_and_state(cell: GateL0RDCell, x, h, noise=None):
    """Lambda and the new state of one step (the cell's own recurrence, white-box)."""
    weights = cell._prepare()
    new_h, lam = cell._recur(cell._project(x, noise, weights), h, weights)
    return lam, new_h


def _set_linear(linear: torch.nn.Linear, weight, bias) -> None:
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.tensor(bias, dtype=linear.bias.dtype))


def _hand_cell() -> GateL0RDCell:
    """2-D cell with weights chosen so that every quantity is easy to compute by hand.

    z = (x1, x2, h1, h2); g(z) = (x1, -1); r(z) = tanh(0.5 x1 + 0.5 x2 + 0.2, h2);
    p(xh) = tanh(h1, h2); o(xh) = sigmoid(x1, 0).
    """
    cell = GateL0RDCell(2, 2, 2).double().eval()
    _set_linear(cell.g[0], [[1, 0, 0, 0], [0, 0, 0, 0]], [0, -1])
    _set_linear(cell.r[0], [[0.5, 0.5, 0, 0], [0, 0, 0, 1]], [0.2, 0])
    _set_linear(cell.p[0], [[0, 0, 1, 0], [0, 0, 0, 1]], [0, 0])
    _set_linear(cell.o[0], [[1, 0, 0, 0], [0, 0, 0, 0]], [0, 0])
    return cell


def test_hand_computed_two_dimensional_example():
    cell = _hand_cell()
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    h_prev = torch.tensor([[0.5, -0.5]], dtype=torch.float64)
    # By hand: s = (1, -1) -> Lambda = (tanh 1, 0) = (0.76159416, 0)
    # r = (tanh 0.2, tanh -0.5) = (0.19737532, -0.46211716)
    # h = h_prev + Lambda (r - h_prev) = (0.5 + 0.76159416 * (0.19737532 - 0.5), -0.5)
    #   = (0.26952281, -0.5)
    # y = tanh(h) * sigmoid(x1, 0) = (0.26321 * 0.73105858, -0.46211716 * 0.5)
    #   = (0.19240055, -0.23105858)
    expected_lambda = [math.tanh(1.0), 0.0]
    expected_h = [0.5 + math.tanh(1.0) * (math.tanh(0.2) - 0.5), -0.5]
    expected_y = [
        math.tanh(expected_h[0]) / (1.0 + math.exp(-1.0)),
        math.tanh(-0.5) * 0.5,
    ]
    assert expected_h[0] == pytest.approx(0.2695228124353022, abs=1e-12)
    assert expected_y == pytest.approx([0.19240054917291474, -0.23105857863000487], abs=1e-12)

    y, h, theta = cell.step(x, h_prev)
    lam, _ = _lambda_and_state(cell, x, h_prev)
    torch.testing.assert_close(lam, torch.tensor([expected_lambda], dtype=torch.float64))
    torch.testing.assert_close(h, torch.tensor([expected_h], dtype=torch.float64))
    torch.testing.assert_close(y, torch.tensor([expected_y], dtype=torch.float64))
    assert theta.tolist() == [[1.0, 0.0]]


def test_hand_example_without_output_gate_is_p_alone():
    cell = GateL0RDCell(2, 2, 2, output_gate=False).double().eval()
    reference = _hand_cell()
    for name in ("g", "r", "p"):
        getattr(cell, name).load_state_dict(getattr(reference, name).state_dict())
    assert cell.o is None
    x = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    y, h, _ = cell.step(x, torch.tensor([[0.5, -0.5]], dtype=torch.float64))
    torch.testing.assert_close(y, torch.tanh(h))


@pytest.mark.parametrize("num_layers_internal", [1, 3])
def test_closed_gates_leave_the_state_bit_identical(num_layers_internal):
    torch.manual_seed(0)
    cell = GateL0RDCell(3, 4, 5, num_layers_internal=num_layers_internal).train()
    with torch.no_grad():
        cell.g[-1].bias.fill_(-1e4)  # g's output is very negative: the gates never open
    h0 = torch.randn(6, 4)
    x = torch.randn(6, 20, 3)
    noise = torch.randn(6, 20, 4)  # gate noise in training mode cannot open them either
    sequence = cell.forward_sequence(x, h0, noise, return_states=True)
    assert torch.equal(sequence.states, h0.unsqueeze(1).expand(6, 20, 4))
    assert torch.equal(sequence.state, h0)
    assert torch.count_nonzero(sequence.gates) == 0


@pytest.mark.parametrize("num_layers_internal", [1, 2])
def test_gate_noise_is_added_to_g_with_standard_deviation_gate_noise_level(num_layers_internal):
    torch.manual_seed(1)
    cell = GateL0RDCell(3, 4, num_layers_internal=num_layers_internal, gate_noise_level=0.1)
    x, h, eps = torch.randn(5, 3), torch.randn(5, 4), torch.randn(5, 4)
    cell.train()
    lam, _ = _lambda_and_state(cell, x, h, eps)
    s = cell.g(torch.cat([x, h], dim=-1)) + 0.1 * eps  # paper Eq. 10 with sigma = 0.1
    torch.testing.assert_close(lam, torch.relu(torch.tanh(s)))


def test_eval_mode_is_deterministic_and_train_mode_is_not():
    from mbplan.models import make_world_model

    torch.manual_seed(2)
    model = make_world_model("gatel0rd", 2, 1, hidden_size=6, feature_size=8, k=1)
    obs, actions = torch.randn(16, 12, 2), torch.randn(16, 12, 1)
    generator = torch.Generator().manual_seed(0)
    model.eval()
    assert model.core.noise_size == 0
    first = model(obs, actions).predictions
    assert torch.equal(first, model(obs, actions).predictions)

    model.train()
    assert model.core.noise_size == 6
    noisy_a = model(obs, actions, generator=generator).predictions
    noisy_b = model(obs, actions, generator=generator).predictions
    assert not torch.equal(noisy_a, noisy_b)  # fresh noise per call
    assert not torch.equal(noisy_a, first)
    replay = model(obs, actions, generator=torch.Generator().manual_seed(0)).predictions
    assert torch.equal(noisy_a, replay)  # but reproducible from the generator


def test_stochastic_gates_off_is_deterministic_in_training_mode():
    cell = GateL0RDCell(3, 4, stochastic_gates=False).train()
    assert cell.noise_size == 0


@pytest.mark.parametrize("gate_type", ["retanh", "step"])
def test_lambda_in_unit_interval_and_theta_is_one_exactly_where_lambda_is_positive(gate_type):
    torch.manual_seed(3)
    cell = GateL0RDCell(4, 16, num_layers_internal=2, gate_type=gate_type).eval()
    x, h = 3.0 * torch.randn(256, 4), torch.rand(256, 16) * 2 - 1
    lam, _ = _lambda_and_state(cell, x, h)
    _, _, theta = cell.step(x, h)
    assert lam.min() >= 0.0 and lam.max() <= 1.0
    assert torch.equal(theta, (lam > 0).to(theta.dtype))
    assert 0 < int((lam > 0).sum()) < lam.numel()  # both open and closed gates occur
    if gate_type == "step":
        assert set(lam.unique().tolist()) <= {0.0, 1.0}


def test_sigmoid_gate_ablation_regularises_the_sigmoid_itself():
    torch.manual_seed(4)
    cell = GateL0RDCell(3, 5, gate_type="sigmoid").eval()
    x, h = torch.randn(7, 3), torch.randn(7, 5)
    lam, _ = _lambda_and_state(cell, x, h)
    _, _, theta = cell.step(x, h)
    torch.testing.assert_close(lam, torch.sigmoid(cell.g(torch.cat([x, h], dim=-1))))
    assert torch.equal(theta, lam)


def test_straight_through_gradient_of_mean_theta_reaches_g():
    torch.manual_seed(5)
    cell = GateL0RDCell(3, 4).double().eval()
    x, h = torch.randn(32, 3, dtype=torch.float64), torch.randn(32, 4, dtype=torch.float64)
    _, _, theta = cell.step(x, h)
    theta.mean().backward()
    # Theta's gradient is the identity w.r.t. Lambda, so d mean(Theta) / d b_g[j] is
    # sum_b ReTanh'(s_bj) / (B * H) with ReTanh'(s) = (1 - tanh(s)^2) for s > 0, else 0.
    with torch.no_grad():
        s = cell.g(torch.cat([x, h], dim=-1))
        expected = ((1 - torch.tanh(s) ** 2) * (s > 0)).sum(0) / s.numel()
    assert torch.count_nonzero(expected) > 0
    torch.testing.assert_close(cell.g[0].bias.grad, expected)
    assert cell.g[0].weight.grad.abs().sum() > 0
    assert cell.r[0].weight.grad is None or cell.r[0].weight.grad.abs().sum() == 0


def test_heaviside_st_values_and_identity_gradient():
    x = torch.tensor([-2.0, -0.0, 0.0, 1e-30, 0.3, 5.0], requires_grad=True)
    y = heaviside_st(x)
    assert y.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    y.backward(torch.arange(6.0))
    assert x.grad.tolist() == list(range(6))


def test_bad_gate_type_is_rejected():
    with pytest.raises(ValueError, match="gate_type"):
        GateL0RDCell(2, 2, gate_type="relu")
