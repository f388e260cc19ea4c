"""The fixed-point finder on hand-built systems with known answers; Jacobians vs finite diffs."""

import pytest
import torch

from mbplan.analysis import (
    classify_stability,
    core_map,
    critical_complex_pairs,
    find_fixed_points,
    jacobians,
)
from mbplan.models import CORES, make_world_model


def _linear_map(eigenvalues: list[float], seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    basis = torch.randn(
        len(eigenvalues), len(eigenvalues), generator=generator, dtype=torch.float64
    )
    matrix = basis @ torch.diag(torch.tensor(eigenvalues, dtype=torch.float64)) @ basis.inverse()
    offset = torch.randn(len(eigenvalues), generator=generator, dtype=torch.float64)
    return matrix, offset


@pytest.mark.parametrize(
    ("eigenvalues", "label"),
    [([0.5, -0.3, 0.9], "stable"), ([1.5, 0.2, -0.6], "saddle"), ([1.2, -2.0, 1.7], "unstable")],
)
def test_affine_map_with_known_eigenvalues(eigenvalues: list[float], label: str) -> None:
    matrix, offset = _linear_map(eigenvalues)
    expected = torch.linalg.solve(torch.eye(3, dtype=torch.float64) - matrix, offset)
    starts = torch.randn(64, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    found = find_fixed_points(lambda h: h @ matrix.T + offset, starts * 3, steps=3000, lr=0.05)
    assert found.points.shape == (1, 3)
    assert int(found.counts[0]) == 64 and bool((found.assignment == 0).all())
    torch.testing.assert_close(found.points[0], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(found.jacobians[0], matrix)
    moduli = sorted(abs(v) for v in eigenvalues)[::-1]
    torch.testing.assert_close(
        found.eigenvalues[0].abs(), torch.tensor(moduli, dtype=torch.float64), atol=1e-8, rtol=0
    )
    assert found.stability == [label]


def _bistable(h: torch.Tensor) -> torch.Tensor:
    """Euler step of dx = x - x^3, dy = -y: stable (+-1, 0), saddle (0, 0)."""
    x, y = h[:, 0], h[:, 1]
    return torch.stack([x + 0.1 * (x - x**3), y - 0.1 * y], dim=-1)


def test_bistable_system_two_stable_points_and_a_saddle() -> None:
    grid = torch.linspace(-2, 2, 9, dtype=torch.float64)
    starts = torch.cartesian_prod(grid, grid)
    found = find_fixed_points(_bistable, starts, steps=3000, lr=0.02, dedupe_tol=1e-2)
    order = found.points[:, 0].argsort()
    points = found.points[order]
    torch.testing.assert_close(
        points,
        torch.tensor([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]], dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )
    assert [found.stability[i] for i in order.tolist()] == ["stable", "saddle", "stable"]
    # analytic Jacobians: diag(1 + 0.1 (1 - 3 x^2), 0.9)
    torch.testing.assert_close(
        found.jacobians[order][:, 0, 0],
        torch.tensor([0.8, 1.1, 0.8], dtype=torch.float64),
        atol=1e-4,
        rtol=0,
    )
    # descent on q splits the x axis at the maxima of |x - x^3|, x = +-1/sqrt(3): starts with
    # |x| < 0.577 reach the saddle, the others the stable point of their side
    x0 = starts[:, 0]
    index_of = {round(float(p[0])): int(i) for i, p in enumerate(found.points)}
    assert bool((found.assignment[x0 < -0.6] == index_of[-1]).all())
    assert bool((found.assignment[x0 > 0.6] == index_of[1]).all())
    assert bool((found.assignment[x0.abs() < 0.55] == index_of[0]).all())
    assert int(found.counts.sum()) == starts.shape[0]


@pytest.mark.parametrize("core_name", CORES)
def test_jacobians_equal_finite_differences(core_name: str) -> None:
    torch.manual_seed(0)
    model = (
        make_world_model(core_name, obs_dim=3, action_dim=2, hidden_size=4, depth=2).double().eval()
    )
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(model.core.input_size, generator=generator, dtype=torch.float64)
    state_map = core_map(model.core, x)
    h = torch.randn(3, model.core.state_size, generator=generator, dtype=torch.float64) * 0.5
    analytic = jacobians(state_map, h)
    eps = 1e-6
    eye = torch.eye(h.shape[1], dtype=torch.float64)
    numeric = torch.stack(
        [(state_map(h + eps * e) - state_map(h - eps * e)) / (2 * eps) for e in eye], dim=-1
    )
    torch.testing.assert_close(analytic, numeric, atol=1e-7, rtol=1e-6)


def test_classification_and_critical_pairs() -> None:
    eig = torch.tensor([[0.5, 0.2], [1.0, 0.3], [2.0, 0.5], [2.0, 1.5]], dtype=torch.complex128)
    assert classify_stability(eig) == ["stable", "marginal", "saddle", "unstable"]
    # e^{i phi} on the unit circle maps to i tan(phi / 2): a critical pair counted once
    pair = torch.tensor([[torch.exp(torch.tensor(0.5j)), torch.exp(torch.tensor(-0.5j)), 0.2]])
    assert critical_complex_pairs(pair).tolist() == [1]


def test_bad_input_is_named() -> None:
    with pytest.raises(ValueError, match="initial_states"):
        find_fixed_points(_bistable, torch.zeros(2))
    with pytest.raises(ValueError, match="h: expected"):
        jacobians(_bistable, torch.zeros(2))
