"""VAA and VAA* against hand-built systems with known attractors, gradients, state sampling."""

from __future__ import annotations

import pytest
import torch

from mbplan.analysis import (
    converge,
    core_prefix_states,
    layer_slices,
    prefix_lengths,
    vaa,
    vaa_of_states,
    vaa_star,
    vaa_star_of_states,
    world_model_prefix_states,
)
from mbplan.analysis.vaa import DELTA, EPSILON
from mbplan.models import make_world_model
from mbplan.models.cells import BRCCell, GRUCell, LSTMCell, NBRCCell, RecurrentStack


def one_neuron_bistable_cell(cell_class, a_bias: float) -> BRCCell:
    """A one-neuron (n)BRC with no input and a constant gate c = 1/2.

    All weights are zero except ``b_a``, so ``a = 1 + tanh(b_a)`` is constant and the map is
    ``h -> h/2 + tanh(a h)/2``, whose fixed points solve ``h = tanh(a h)``: for ``a > 1`` two
    stable ones ``+-h*`` and the unstable 0 (bistable); for ``a < 1`` only 0 (monostable).
    """
    cell = cell_class(1, 1).double()
    with torch.no_grad():
        for parameter in cell.parameters():
            parameter.zero_()
        cell.b_a.fill_(a_bias)
    return cell


def states_on_both_sides(n: int) -> torch.Tensor:
    """``n`` states, half in (-1, 0) and half in (0, 1), none on the threshold 0."""
    half = torch.linspace(0.01, 0.99, n // 2, dtype=torch.float64)
    return torch.cat([-half, half]).unsqueeze(-1)


def reference_vaa(states: torch.Tensor, epsilon: float) -> float:
    """The definition as a loop over pairs."""
    n = states.shape[0]
    total = 0.0
    for i in range(n):
        count = sum(float(torch.linalg.norm(states[j] - states[i])) < epsilon for j in range(n))
        total += 1.0 / count / n
    return total


@pytest.mark.parametrize("cell_class", [BRCCell, NBRCCell])
@pytest.mark.parametrize("n", [4, 10])
def test_bistable_cell_gives_two_over_n_and_monostable_one_over_n(cell_class, n):
    u = torch.zeros(1, dtype=torch.float64)
    bistable = one_neuron_bistable_cell(cell_class, a_bias=3.0)  # a = 1.995
    value = vaa(bistable, states_on_both_sides(n), 200, inputs=u)
    assert float(value) == pytest.approx(2.0 / n, abs=1e-12)
    monostable = one_neuron_bistable_cell(cell_class, a_bias=-3.0)  # a = 0.005
    value = vaa(monostable, states_on_both_sides(n), 200, inputs=u)
    assert float(value) == pytest.approx(1.0 / n, abs=1e-12)


def test_n_mutually_distant_fixed_states_give_one():
    # c = sigmoid(40) = 1 - 4e-18: the cell keeps its state (float64), every state is fixed
    cell = BRCCell(1, 3).double()
    with torch.no_grad():
        cell.w_c.zero_()
        cell.U_c.zero_()
        cell.b_c.fill_(40.0)
    states = torch.randn(12, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    final = vaa(cell, states, 50, inputs=torch.ones(1, dtype=torch.float64))
    assert float(final) == 1.0
    distances = torch.cdist(states, states)
    assert distances[~torch.eye(12, dtype=torch.bool)].min() > 10 * EPSILON


def test_vaa_matches_the_loop_over_pairs_and_is_batched():
    generator = torch.Generator().manual_seed(1)
    centres = torch.randn(3, 5, generator=generator)
    # 40 states (more than cdist's 25-row threshold for its inexact matrix-product mode): clusters
    # of exact copies, copies 3e-5 apart (same attractor) and copies 5e-4 apart (distinct)
    pick = torch.randint(0, 3, (40,), generator=generator)
    offsets = torch.zeros(40, 5)
    offsets[::3, 0] = 3e-5
    offsets[1::7, 1] = 5e-4
    states = centres[pick] + offsets
    expected = reference_vaa(states, EPSILON)
    assert float(vaa_of_states(states)) == pytest.approx(expected, abs=1e-6)
    batched = torch.stack([states, states[:, [1, 0, 2, 3, 4]] * 0.0, torch.randn(40, 5)])
    values = vaa_of_states(batched)
    assert values.shape == (3,)
    torch.testing.assert_close(values[0], vaa_of_states(states))
    assert float(values[1]) == pytest.approx(1 / 40)
    assert float(values[2]) == 1.0


def test_vaa_star_is_within_the_stated_tolerance_of_vaa():
    """Distances all <= eps or >= d_min: |VAA* - VAA| <= (n - 1)(eps + delta)/(d_min + delta).

    (For state i with m close states and far distances d_j: 1/m - 1/(m + s) <= s with
    s = sum_far (eps + delta)/(d_j + delta).)
    """
    u = torch.zeros(1, dtype=torch.float64)
    for n in (4, 10):
        cell = one_neuron_bistable_cell(BRCCell, a_bias=3.0)
        with torch.no_grad():
            final = converge(cell, states_on_both_sides(n), 200, u.expand(1))
        distances = torch.cdist(torch.tanh(final), torch.tanh(final))
        close = distances <= EPSILON
        d_min = float(distances[~close].min())
        assert d_min > 1.0  # the two attractors +-h* are far apart
        bound = (n - 1) * (EPSILON + DELTA) / (d_min + DELTA)
        exact, star = float(vaa_of_states(final)), float(vaa_star_of_states(final))
        assert exact == pytest.approx(2 / n)
        assert abs(star - exact) <= bound
        assert star < exact  # the far terms only add to the soft counts
    # all states distant: VAA* = 1 - O(eps)
    states = torch.randn(8, 4, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    tanh_distances = torch.cdist(torch.tanh(states), torch.tanh(states))
    d_min = float(tanh_distances[~torch.eye(8, dtype=torch.bool)].min())
    bound = 7 * (EPSILON + DELTA) / (d_min + DELTA)
    assert abs(float(vaa_star_of_states(states)) - 1.0) <= bound
    # all states within eps: VAA* = VAA = 1/n exactly
    tight = torch.zeros(6, 4, dtype=torch.float64) + 1e-6 * torch.arange(6.0).unsqueeze(-1)
    assert float(vaa_star_of_states(tight)) == pytest.approx(1 / 6, abs=1e-12)
    assert float(vaa_of_states(tight)) == pytest.approx(1 / 6, abs=1e-12)


def test_vaa_star_gradients_pass_gradcheck_in_float64():
    generator = torch.Generator().manual_seed(3)
    base = torch.randn(5, 3, generator=generator, dtype=torch.float64)
    # two pairs closer than eps (the C = 1 branch), the rest far apart (the soft branch)
    states = torch.cat([base, base[:2] + 3e-5]).requires_grad_(True)
    assert torch.autograd.gradcheck(vaa_star_of_states, (states,), eps=1e-7, atol=1e-5)
    # through a core: with respect to the initial states and the held inputs
    torch.manual_seed(0)
    core = RecurrentStack([GRUCell(2, 3), LSTMCell(3, 2)]).double()
    initial = torch.randn(6, core.state_size, generator=generator, dtype=torch.float64)
    initial.requires_grad_(True)
    inputs = [torch.randn(2, dtype=torch.float64), torch.randn(3, dtype=torch.float64)]

    def objective(h):
        return vaa_star(core, h, 5, inputs=inputs)

    assert torch.autograd.gradcheck(objective, (initial,), eps=1e-6, atol=1e-5)
    # and parameters receive finite gradients
    objective(initial).sum().backward()
    grads = [p.grad for p in core.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def test_vaa_star_runs_each_layer_alone_with_its_own_input():
    torch.manual_seed(0)
    core = RecurrentStack([GRUCell(2, 3), LSTMCell(3, 2)])
    generator = torch.Generator().manual_seed(4)
    initial = torch.randn(2, 7, core.state_size, generator=generator)  # two sets of 7 states
    values = vaa_star(core, initial, 10, generator=torch.Generator().manual_seed(5))
    assert values.shape == (2, 2)
    # by hand: the same draws, layer by layer, the LSTM's h and c both compared
    draw = torch.Generator().manual_seed(5)
    (gru, first), (lstm, second) = layer_slices(core)
    assert (first, second) == (slice(0, 3), slice(3, 7))
    u_gru = torch.randn(2, 2, generator=draw)
    u_lstm = torch.randn(2, 3, generator=draw)
    for s in range(2):
        h = initial[s, :, first]
        for _ in range(10):
            h = gru.step(u_gru[s].expand(7, -1), h).state
        c = initial[s, :, second]
        for _ in range(10):
            c = lstm.step(u_lstm[s].expand(7, -1), c).state
        torch.testing.assert_close(values[s, 0], vaa_star_of_states(h))
        torch.testing.assert_close(values[s, 1], vaa_star_of_states(c))


def test_prefix_states_equal_one_forward_per_sequence():
    torch.manual_seed(0)
    core = RecurrentStack([GRUCell(2, 4), LSTMCell(4, 3)])
    inputs = torch.randn(5, 9, 2, generator=torch.Generator().manual_seed(6))
    lengths = prefix_lengths(5, 9, torch.Generator().manual_seed(7))
    assert int(lengths.min()) >= 1 and int(lengths.max()) <= 9
    states = core_prefix_states(core, inputs, lengths=lengths)
    for i, c in enumerate(lengths.tolist()):
        alone = core.forward_sequence(inputs[i : i + 1, :c], torch.zeros(1, core.state_size))
        torch.testing.assert_close(states[i], alone.state[0], rtol=1e-5, atol=1e-6)


def test_world_model_prefix_states_filter_real_inputs_and_keep_the_mode():
    torch.manual_seed(0)
    model = make_world_model("gatel0rd", obs_dim=3, action_dim=2, hidden_size=4, k=2)
    generator = torch.Generator().manual_seed(8)
    obs = torch.randn(4, 6, 3, generator=generator)
    actions = torch.randn(4, 6, 2, generator=generator)
    lengths = torch.tensor([1, 2, 4, 6])
    model.train()
    states = world_model_prefix_states(model, obs, actions, lengths=lengths)
    assert model.training
    model.eval()
    for i, c in enumerate(lengths.tolist()):
        state = model.initial_state(obs[i : i + 1, :2], actions[i : i + 1, :2])
        for t in range(c):
            _, state, _ = model.step(obs[i : i + 1, t], actions[i : i + 1, t], state)
        torch.testing.assert_close(states[i], state[0], rtol=1e-5, atol=1e-6)


def test_bad_input_is_named():
    cell = one_neuron_bistable_cell(BRCCell, 3.0)
    with pytest.raises(ValueError, match="epsilon"):
        vaa_of_states(torch.zeros(3, 2), epsilon=0.0)
    with pytest.raises(ValueError, match="states"):
        vaa_of_states(torch.zeros(3))
    with pytest.raises(ValueError, match="initial_states"):
        vaa(cell, torch.zeros(3, 2, dtype=torch.float64), 3, inputs=torch.zeros(1))
    with pytest.raises(ValueError, match="generator"):
        vaa(cell, torch.zeros(3, 1, dtype=torch.float64), 3)
    with pytest.raises(ValueError, match="lengths"):
        core_prefix_states(cell, torch.zeros(2, 3, 1), lengths=torch.tensor([0, 3]))
