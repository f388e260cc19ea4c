"""BRC and nBRC: equations, initialisation and bistability (reference cells.md Sec. B.1)."""

from __future__ import annotations

import math

import pytest
import torch

from mbplan.models.cells import BRCCell, NBRCCell


def _fixed_gate_brc(a_bias: float) -> BRCCell:
    """One-neuron BRC with zero input weights, a_t = 1 + tanh(a_bias) and c_t = 0.5 constant."""
    cell = BRCCell(1, 1).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.zero_()
        cell.b_a.fill_(a_bias)
    return cell


def _run_from(cell: BRCCell, starts: list[float], steps: int = 400) -> torch.Tensor:
    h0 = torch.tensor(starts, dtype=torch.float64).unsqueeze(1)
    x = torch.zeros(len(starts), steps, 1, dtype=torch.float64)
    with torch.no_grad():
        return cell.forward_sequence(x, h0).state.squeeze(1)


def test_brc_with_a_above_one_has_two_stable_nonzero_fixed_points():
    a = 1.0 + math.tanh(1.0)  # ~1.76 > 1
    cell = _fixed_gate_brc(1.0)
    final = _run_from(cell, [-0.9, -0.05, 0.05, 0.9])
    # negative starts settle at -h*, positive ones at +h*, with h* = tanh(a h*) > 0
    h_star = float(final[-1])
    assert h_star > 0.5
    torch.testing.assert_close(final, torch.tensor([-h_star, -h_star, h_star, h_star]).double())
    assert h_star == pytest.approx(math.tanh(a * h_star), abs=1e-9)
    # stable: the map h -> c h + (1 - c) tanh(a h) has slope < 1 there (c = 0.5)
    assert 0.5 + 0.5 * a * (1.0 - h_star**2) < 1.0
    # and a state there stays put to the last bit of tolerance
    again = _run_from(cell, [h_star], steps=10)
    assert float(again[0]) == pytest.approx(h_star, abs=1e-12)


def test_brc_with_a_below_one_has_the_single_fixed_point_zero():
    cell = _fixed_gate_brc(-1.0)  # a = 1 + tanh(-1) ~ 0.24 < 1
    final = _run_from(cell, [-0.9, -0.05, 0.05, 0.9])
    assert final.abs().max() < 1e-12


def test_brc_one_step_matches_the_equations():
    cell = BRCCell(2, 2).double()
    with torch.no_grad():
        cell.U_a.copy_(torch.tensor([[0.1, 0.2], [0.3, -0.4]]))
        cell.U_c.copy_(torch.tensor([[-0.5, 0.6], [0.7, 0.8]]))
        cell.U_h.copy_(torch.tensor([[0.9, -1.0], [1.1, 1.2]]))
        cell.w_a.copy_(torch.tensor([0.5, -1.5]))
        cell.w_c.copy_(torch.tensor([2.0, 0.25]))
        cell.b_a.copy_(torch.tensor([0.1, -0.1]))
        cell.b_c.copy_(torch.tensor([-0.2, 0.3]))
        cell.b_h.copy_(torch.tensor([0.05, -0.05]))
    x, h = [0.3, -0.7], [0.4, -0.6]
    expected = []
    for i in range(2):
        ua = [[0.1, 0.2], [0.3, -0.4]][i]
        uc = [[-0.5, 0.6], [0.7, 0.8]][i]
        uh = [[0.9, -1.0], [1.1, 1.2]][i]
        dot = lambda u: u[0] * x[0] + u[1] * x[1]  # noqa: E731
        a = 1 + math.tanh(dot(ua) + [0.5, -1.5][i] * h[i] + [0.1, -0.1][i])
        c = 1 / (1 + math.exp(-(dot(uc) + [2.0, 0.25][i] * h[i] + [-0.2, 0.3][i])))
        expected.append(c * h[i] + (1 - c) * math.tanh(dot(uh) + a * h[i] + [0.05, -0.05][i]))
    y, state, gates = cell.step(torch.tensor([x]).double(), torch.tensor([h]).double())
    torch.testing.assert_close(state, torch.tensor([expected]).double())
    assert torch.equal(y, state) and gates is None


def test_nbrc_one_step_matches_the_equations():
    torch.manual_seed(0)
    cell = NBRCCell(3, 4).double()
    x, h = torch.randn(5, 3).double(), torch.randn(5, 4).double()
    a = 1 + torch.tanh(x @ cell.U_a.T + h @ cell.W_a.T + cell.b_a)
    c = torch.sigmoid(x @ cell.U_c.T + h @ cell.W_c.T + cell.b_c)
    expected = c * h + (1 - c) * torch.tanh(x @ cell.U_h.T + a * h + cell.b_h)
    _, state, _ = cell.step(x, h)
    torch.testing.assert_close(state, expected)


def test_initialisation_follows_the_official_code():
    torch.manual_seed(1)
    brc, nbrc = BRCCell(5, 6), NBRCCell(5, 6)
    assert torch.equal(brc.w_a, torch.ones(6)) and torch.equal(brc.w_c, torch.ones(6))
    for cell in (brc, nbrc):
        for bias in (cell.b_a, cell.b_c, cell.b_h):
            assert torch.equal(bias, torch.zeros(6))
        bound = math.sqrt(6.0 / (5 + 6))  # Xavier-uniform for the (6, 5) input weights
        for weight in (cell.U_a, cell.U_c, cell.U_h):
            assert weight.abs().max() <= bound and weight.std() > 0.1 * bound
    assert nbrc.W_a.shape == (6, 6) and nbrc.W_a.abs().max() <= math.sqrt(6.0 / 12)
    assert nbrc.W_a.std() > 0


def test_candidate_bias_option_drops_b_h():
    cell = BRCCell(2, 3, candidate_bias=False)
    assert cell.b_h is None
    assert "b_h" not in dict(cell.named_parameters())
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.zero_()
    # zero weights and no candidate bias: h_t = 0.5 h + 0.5 tanh(h) from any input
    h = torch.tensor([[0.3, -0.2, 0.9]])
    _, state, _ = cell.step(torch.randn(1, 2), h)
    torch.testing.assert_close(state, 0.5 * h + 0.5 * torch.tanh(h))
