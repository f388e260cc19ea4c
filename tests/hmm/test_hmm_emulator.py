"""The noise-driven ReLU RNN, its hard Gumbel-softmax, the Sinkhorn loss and the metrics."""

import math

import pytest
import torch

from mbplan.hmm.emulator import HMMEmulator, hard_gumbel_softmax
from mbplan.hmm.metrics import (
    matched_distances,
    output_frequencies,
    symbol_transition_matrix,
    volatility,
)
from mbplan.hmm.sinkhorn import entropic_transport_plan, sinkhorn_divergence
from mbplan.models.cells import NoiseReLUCell


def test_cell_equations_and_step_equals_sequence() -> None:
    generator = torch.Generator().manual_seed(0)
    cell = NoiseReLUCell(4, 6, 3, generator=generator).double()
    x = torch.randn(2, 5, 4, generator=generator, dtype=torch.float64)
    h = torch.rand(2, 6, generator=generator, dtype=torch.float64)
    expected_h = torch.relu(x[:, 0] @ cell.weight_ih.T + h @ cell.weight_hh.T)
    step = cell.step(x[:, 0], h)
    torch.testing.assert_close(step.state, expected_h)
    torch.testing.assert_close(step.output, expected_h @ cell.weight_out.T)
    assert step.gates is None
    sequence = cell.forward_sequence(x, h, return_states=True)
    step_fn, state, outputs = cell.make_step_fn(), h, []
    for t in range(5):
        out, state, _ = step_fn(x[:, t], state, None)
        outputs.append(out)
    torch.testing.assert_close(sequence.outputs, torch.stack(outputs, 1))
    torch.testing.assert_close(sequence.state, state)
    bound = 1 / math.sqrt(6)
    assert all(float(p.detach().abs().max()) <= bound for p in cell.parameters())
    # same generator seed, same weights; no bias anywhere
    again = NoiseReLUCell(4, 6, 3, generator=torch.Generator().manual_seed(0)).double()
    torch.testing.assert_close(again.weight_hh, cell.weight_hh)
    assert {name for name, _ in cell.named_parameters()} == {"weight_ih", "weight_hh", "weight_out"}


def test_hard_gumbel_softmax_samples_the_softmax_with_straight_through_gradients() -> None:
    logits = torch.tensor([1.0, 0.0, -1.0], dtype=torch.float64)
    generator = torch.Generator().manual_seed(5)
    samples = hard_gumbel_softmax(logits.expand(40000, 3), 1.0, generator)
    assert torch.equal(samples.sum(-1), torch.ones(40000, dtype=torch.float64))
    assert set(samples.unique().tolist()) == {0.0, 1.0}
    expected = torch.softmax(logits, -1)
    # 5 binomial standard errors
    tolerance = 5 * torch.sqrt(expected * (1 - expected) / 40000)
    assert bool(((samples.mean(0) - expected).abs() <= tolerance).all())
    # backward: the gradient of softmax((logits + g) / tau) for the same Gumbel draw
    leaf = logits.clone().requires_grad_(True)
    weights = torch.tensor([0.3, -1.0, 2.0], dtype=torch.float64)
    (hard_gumbel_softmax(leaf, 0.5, torch.Generator().manual_seed(9)) * weights).sum().backward()
    u = torch.rand(3, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    g = -torch.log(-torch.log(u + 1e-10) + 1e-10)
    reference = logits.clone().requires_grad_(True)
    (torch.softmax((reference + g) / 0.5, -1) * weights).sum().backward()
    torch.testing.assert_close(leaf.grad, reference.grad)


def test_emulator_outputs_and_gradients() -> None:
    generator = torch.Generator().manual_seed(1)
    model = HMMEmulator(input_size=3, hidden_size=8, generator=generator)
    out = model(4, 6, generator)
    assert out.symbols.shape == (4, 6, 3) and out.hidden.shape == (4, 6, 8)
    torch.testing.assert_close(out.logits, out.hidden @ model.cell.weight_out.T)
    out.symbols[..., 0].sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    with pytest.raises(ValueError, match="generator"):
        model(2, 2, None)  # type: ignore[arg-type]


def test_sinkhorn_is_zero_on_identical_clouds_and_grows_with_a_known_shift() -> None:
    generator = torch.Generator().manual_seed(3)
    cloud = torch.randn(200, 6, generator=generator, dtype=torch.float64)
    assert abs(float(sinkhorn_divergence(cloud, cloud))) < 1e-8
    direction = torch.randn(6, generator=generator, dtype=torch.float64)
    direction = direction / direction.norm()
    values = [float(sinkhorn_divergence(cloud, cloud + s * direction)) for s in (0.25, 0.5, 1, 2)]
    assert values == sorted(values) and values[0] > 0
    # debiased divergence of a translate: 1/2 ||shift||^2 (cost 1/2 |x - y|^2)
    for shift, value in zip((0.25, 0.5, 1, 2), values, strict=True):
        assert value == pytest.approx(0.5 * shift**2, rel=0.05)
    with pytest.raises(ValueError, match="same dim"):
        sinkhorn_divergence(cloud, cloud[:, :3])


def test_transport_plan_marginals_and_matched_distances() -> None:
    generator = torch.Generator().manual_seed(4)
    x = torch.randn(30, 4, generator=generator)
    plan = entropic_transport_plan(x, x + 5.0, threshold=1e-6)
    torch.testing.assert_close(plan.sum(0), torch.full((30,), 1 / 30), atol=1e-4, rtol=0)
    torch.testing.assert_close(plan.sum(1), torch.full((30,), 1 / 30), atol=1e-4, rtol=0)
    symbols = torch.randint(0, 3, (40, 10), generator=generator)
    sequences = torch.nn.functional.one_hot(symbols, 3).float()
    assert float(matched_distances(sequences, sequences).max()) == 0.0
    far = torch.nn.functional.one_hot((symbols + 1) % 3, 3).float()
    assert float(matched_distances(sequences, far).min()) > 0.0


def test_symbol_statistics_on_hand_sequences() -> None:
    symbols = torch.tensor([[0, 0, 1, 2], [2, 2, 2, 2]])
    sequences = torch.nn.functional.one_hot(symbols, 3).float()
    assert volatility(sequences).tolist() == [2, 0]
    torch.testing.assert_close(
        symbol_transition_matrix(sequences),
        torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=torch.float64),
    )
    torch.testing.assert_close(output_frequencies(sequences)[0], torch.tensor([0.5, 0.25, 0.25]))


def test_an_expanding_emulator_raises_where_its_logits_overflow() -> None:
    """W_hh = 40 I grows the state 40x per step: float32 overflows after about 24 steps."""
    emulator = HMMEmulator(2, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        emulator.cell.weight_hh.copy_(40.0 * torch.eye(3))
        emulator.cell.weight_ih.fill_(1.0)  # every unit driven by the same noise sum
    generator = torch.Generator().manual_seed(1)
    assert emulator(4, 10, generator).symbols.shape == (4, 10, 3)  # 40^10 ~ 1e16: finite
    with pytest.raises(ValueError, match=r"logits overflow at step 2\d of 60"):
        emulator(4, 60, generator)
    assert torch.isfinite(emulator.double()(4, 60, generator).logits).all()  # 40^60 ~ 1e96
