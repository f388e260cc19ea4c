"""CEM and MPPI run on iCEM's shared sampler, bounds and warm start."""

from __future__ import annotations

import math

import pytest
import torch

from planners.cem import CEM
from planners.icem import ICEM
from planners.mppi import MPPI, mppi_weights
from planners.sampling import SamplingPlanner

LOW, HIGH = torch.tensor([-1.0, -2.0]), torch.tensor([1.0, 2.0])


def quadratic(actions: torch.Tensor) -> torch.Tensor:
    return ((actions - torch.tensor([0.4, -1.0])) ** 2).sum(dim=(-1, -2))


def recording(fn):
    calls = []

    def cost(actions: torch.Tensor) -> torch.Tensor:
        calls.append(actions.clone())
        return fn(actions)

    return cost, calls


def test_cem_is_icem_without_the_improvements() -> None:
    cem = CEM(LOW, HIGH, 10, generator=torch.Generator().manual_seed(0))
    icem = ICEM(
        LOW,
        HIGH,
        10,
        noise_beta=0.0,
        population_decay=1.0,
        elite_reuse_fraction=0.0,
        keep_previous_elites=False,
        shift_elites=False,
        mean_as_sample=False,
        generator=torch.Generator().manual_seed(0),
    )
    cem.reset(2)
    icem.reset(2)
    for _ in range(3):
        torch.testing.assert_close(cem.plan(quadratic), icem.plan(quadratic), rtol=0, atol=0)
        cem.shift()
        icem.shift()
    cost, calls = recording(quadratic)
    cem.plan(cost)
    assert [c.shape[1] for c in calls] == [40, 40, 40]
    assert cem.noise.is_white


def test_mppi_draws_from_the_shared_sampler() -> None:
    # Same seed, same mean and std: MPPI's population is iCEM's (white noise) first population.
    mppi = MPPI(LOW, HIGH, 10, population=40, generator=torch.Generator().manual_seed(1))
    icem = ICEM(LOW, HIGH, 10, noise_beta=0.0, generator=torch.Generator().manual_seed(1))
    mppi.reset(3)
    icem.reset(3)
    cost_m, calls_m = recording(quadratic)
    cost_i, calls_i = recording(quadratic)
    mppi.plan(cost_m)
    icem.plan(cost_i)
    torch.testing.assert_close(calls_m[0], calls_i[0], rtol=0, atol=0)
    assert isinstance(mppi, SamplingPlanner) and isinstance(icem, SamplingPlanner)
    assert MPPI.shift is SamplingPlanner.shift and MPPI.sample is ICEM.sample


def test_mppi_update_by_hand() -> None:
    # One iteration: the new mean is the softmax(-cost / lambda)-weighted average of the samples.
    mppi = MPPI(
        [-1.0], [1.0], 3, population=5, temperature=0.5, generator=torch.Generator().manual_seed(2)
    )
    mppi.reset(1)
    cost, calls = recording(lambda a: a.sum(dim=(-1, -2)))
    mean = mppi.plan(cost)
    samples = calls[0][0, :, :, 0]  # (5, 3)
    weights = torch.exp(-samples.sum(-1) / 0.5)
    weights = weights / weights.sum()
    torch.testing.assert_close(mean[0, :, 0], (weights[:, None] * samples).sum(0))
    torch.testing.assert_close(
        mppi.std, torch.full((1, 3, 1), 0.5)
    )  # std stays at its initial value


def test_mppi_weights_nan_and_inf() -> None:
    costs = torch.tensor([[1.0, math.inf, 2.0], [math.inf, math.inf, math.inf]])
    weights = mppi_weights(costs, 1.0)
    e = math.exp(-1.0)
    torch.testing.assert_close(weights[0], torch.tensor([1 / (1 + e), 0.0, e / (1 + e)]))
    torch.testing.assert_close(weights[1], torch.full((3,), 1 / 3))


def test_mppi_converges_and_returns_best_on_request() -> None:
    # With its std fixed, MPPI's mean settles near the minimum up to sampling noise.
    mppi = MPPI(
        LOW, HIGH, 5, population=200, temperature=2.0, generator=torch.Generator().manual_seed(3)
    )
    mppi.reset(2)
    start = quadratic(mppi.mean[:, None])
    for _ in range(10):
        mean = mppi.plan(quadratic)
    torch.testing.assert_close(mean.mean(dim=1), torch.tensor([[0.4, -1.0]] * 2), atol=0.15, rtol=0)
    assert bool((quadratic(mean[:, None]) < 0.1 * start).all())
    best = MPPI(LOW, HIGH, 5, return_best=True, generator=torch.Generator().manual_seed(3))
    best.reset(1)
    cost, calls = recording(quadratic)
    plan = best.plan(cost)
    samples = calls[0][0]
    torch.testing.assert_close(plan[0], samples[quadratic(samples[None])[0].argmin()])


def test_mppi_nan_never_executed_and_bad_arguments() -> None:
    def cost(actions: torch.Tensor) -> torch.Tensor:
        value = quadratic(actions)
        return torch.where(actions[:, :, 0, 0] > 0, torch.full_like(value, math.nan), value)

    mppi = MPPI(LOW, HIGH, 5, return_best=True, generator=torch.Generator().manual_seed(4))
    mppi.reset(2)
    assert bool((mppi.plan(cost)[:, 0, 0] <= 0).all())
    with pytest.raises(ValueError, match="temperature"):
        MPPI(LOW, HIGH, 5, temperature=0.0)
    with pytest.raises(ValueError, match="horizon"):
        MPPI(LOW, HIGH, 0)
