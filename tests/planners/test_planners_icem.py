"""iCEM: the reference's schedule, elites, bounds, warm start, determinism, convergence, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from planners.icem import ICEM, population_schedule

LOW, HIGH = torch.tensor([-1.0, -0.5]), torch.tensor([1.0, 2.0])


def make_icem(seed: int = 0, **kwargs: object) -> ICEM:
    return ICEM(
        LOW,
        HIGH,
        kwargs.pop("horizon", 30),
        generator=torch.Generator().manual_seed(seed),
        **kwargs,
    )


class Recorder:
    """A cost function that records every population it sees."""

    def __init__(self, fn=None) -> None:
        self.calls: list[torch.Tensor] = []
        self.costs: list[torch.Tensor] = []
        self.fn = fn or (lambda a: (a**2).sum(dim=(-1, -2)))

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        self.calls.append(actions.clone())
        costs = self.fn(actions)
        self.costs.append(costs.clone())
        return costs

    @property
    def sizes(self) -> list[int]:
        return [a.shape[1] for a in self.calls]


def test_blitz_defaults() -> None:
    planner = make_icem()
    assert (planner.horizon, planner.population, planner.iterations, planner.num_elites) == (
        30,
        40,
        3,
        10,
    )
    assert (planner.alpha, planner.init_std, planner.noise.beta) == (0.1, 0.5, 3.0)
    assert (planner.population_decay, planner.elite_reuse_fraction) == (1.25, 0.3)
    assert planner.keep_previous_elites and planner.shift_elites and planner.mean_as_sample


def test_population_schedule_as_the_reference() -> None:
    # N_i = max(2K, int(N_{i-1} / gamma)), cumulative: 40 -> 32 -> int(25.6) = 25.
    assert population_schedule(40, 3, 1.25, 20) == [40, 32, 25]
    assert population_schedule(40, 5, 1.25, 20) == [40, 32, 25, 20, 20]  # floor 2K
    assert population_schedule(100, 4, 1.3, 20) == [100, 76, 58, 44]

    planner = make_icem()
    planner.reset(2)
    first = Recorder()
    planner.plan(first)
    assert first.sizes == [40, 32, 25]
    # 3 kept elites (int(0.3 * 10)) join the candidates of iterations 1 and 2 unsimulated.
    assert planner.last_iteration_sizes == [(40, 40), (32, 35), (25, 28)]
    planner.shift()
    second = Recorder()
    planner.plan(second)
    assert second.sizes == [43, 32, 25]  # 3 shifted elites join the first population
    assert planner.last_iteration_sizes == [(43, 43), (32, 35), (25, 28)]
    assert sum(second.sizes) == 100


def test_samples_inside_bounds_and_bounds_are_reached() -> None:
    # Minimum outside the box: the clipped sampler puts mass exactly on the bounds.
    target = torch.tensor([3.0, -3.0])
    recorder = Recorder(lambda a: ((a - target) ** 2).sum(dim=(-1, -2)))
    planner = make_icem(init_std=2.0)
    planner.reset(3)
    for _ in range(4):
        best = planner.plan(recorder)
        planner.shift()
    for actions in recorder.calls:
        assert bool((actions >= LOW).all()) and bool((actions <= HIGH).all())
    corner = torch.tensor([1.0, -0.5])
    on_corner = (recorder.calls[-1] == corner).float().mean()
    assert float(on_corner) > 0.2  # clipping, not truncation: many entries sit exactly on the bound
    assert float((best - corner).abs().mean()) < 0.1  # the plan hugs the corner of the box


def test_executed_action_is_first_of_lowest_cost_sequence_seen() -> None:
    generator = torch.Generator().manual_seed(5)
    weights = torch.randn(30, 2, generator=generator)
    recorder = Recorder(lambda a: (a * weights).sum(dim=(-1, -2)) + 0.0 * a.shape[1])
    planner = make_icem(seed=1)
    planner.reset(4)
    best = planner.plan(recorder)
    all_actions = torch.cat(recorder.calls, dim=1)
    all_costs = torch.cat(recorder.costs, dim=1)
    index = all_costs.argmin(dim=1)
    expected = all_actions[torch.arange(4), index]
    torch.testing.assert_close(best, expected)
    torch.testing.assert_close(best[:, 0], expected[:, 0])


@pytest.mark.parametrize("keep", [True, False])
def test_best_of_an_earlier_iteration_survives_later_worse_iterations(keep: bool) -> None:
    # Later iterations are penalised: the plan must still be the best of iteration 0, whether it
    # travels with the kept elites or is tracked separately.
    calls = []

    def cost(actions: torch.Tensor) -> torch.Tensor:
        calls.append(actions.clone())
        return (actions**2).sum(dim=(-1, -2)) + 1000.0 * (len(calls) - 1)

    planner = make_icem(seed=2, keep_previous_elites=keep)
    planner.reset(1)
    best = planner.plan(cost)
    first = calls[0][0]
    torch.testing.assert_close(best[0], first[(first**2).sum(dim=(-1, -2)).argmin()])


def test_elites_are_kept_between_iterations_and_shifted_between_steps() -> None:
    # Iteration 0 beats everything later, so the kept (and finally shifted) elites are the three
    # best sequences of iteration 0, cost-sorted.
    calls = []

    def cost(actions: torch.Tensor) -> torch.Tensor:
        calls.append(actions.clone())
        return (actions**2).sum(dim=(-1, -2)) + (0.0 if len(calls) == 1 else 1000.0)

    planner = make_icem(seed=3)
    planner.reset(1)
    planner.plan(cost)
    first = calls[0][0]
    top3 = first[(first**2).sum(dim=(-1, -2)).argsort()[:3]]
    before = planner.mean
    planner.shift()
    calls.clear()
    planner.plan(cost)
    carried = calls[0][0, 40:]  # appended after the 40 fresh samples
    torch.testing.assert_close(carried[:, :-1], top3[:, 1:])
    # The new last action comes from a fresh sample of the shifted distribution: in bounds.
    assert bool((carried[:, -1] >= LOW).all()) and bool((carried[:, -1] <= HIGH).all())
    assert before.shape == (1, 30, 2)


def test_mean_replaces_sample_zero_in_the_last_iteration_only() -> None:
    recorder = Recorder()
    planner = make_icem(seed=4, iterations=2, noise_beta=0.0)
    planner.reset(2)
    means = []
    original_refit = planner._refit

    def spy(elites, mean, std):
        new_mean, new_std = original_refit(elites, mean, std)
        means.append(new_mean.clone())
        return new_mean, new_std

    planner._refit = spy
    planner.plan(recorder)
    torch.testing.assert_close(recorder.calls[1][:, 0], means[0])
    assert not torch.allclose(recorder.calls[0][:, 0], planner.box.middle.expand(2, 30, 2))


def test_momentum_update_by_hand() -> None:
    # One iteration, 4 samples, 2 elites, alpha = 0.25: mean and std after the step by hand.
    planner = ICEM(
        [-10.0],
        [10.0],
        2,
        population=4,
        iterations=1,
        elites=2,
        alpha=0.25,
        noise_beta=0.0,
        mean_as_sample=False,
        init_std=0.1,
        generator=torch.Generator().manual_seed(0),
    )
    planner.reset(1)
    seen = []

    def cost(actions: torch.Tensor) -> torch.Tensor:
        seen.append(actions[0, :, :, 0].clone())
        return actions[..., 0].sum(-1)  # lowest sum wins

    planner.plan(cost)
    samples = seen[0]  # (4, 2)
    elites = samples[samples.sum(-1).argsort()[:2]]
    init_std = 0.1 * 10.0
    expected_mean = 0.75 * elites.mean(0) + 0.25 * 0.0
    expected_std = 0.75 * elites.std(0, unbiased=False) + 0.25 * init_std
    torch.testing.assert_close(planner.mean[0, :, 0], expected_mean)
    torch.testing.assert_close(planner.std[0, :, 0], expected_std)


def test_warm_start_shifts_by_one_step_and_resets_std() -> None:
    planner = make_icem(seed=6)
    planner.reset(2)
    planner.plan(Recorder())
    mean = planner.mean
    planner.shift()
    torch.testing.assert_close(planner.mean[:, :-1], mean[:, 1:])
    torch.testing.assert_close(planner.mean[:, -1], mean[:, -1])  # the last entry is kept
    torch.testing.assert_close(planner.std, (0.5 * (HIGH - LOW) / 2).expand(2, 30, 2))


def test_reset_starts_at_midpoint_and_forgets_elites() -> None:
    planner = make_icem(seed=7)
    planner.reset(2)
    torch.testing.assert_close(planner.mean, ((LOW + HIGH) / 2).expand(2, 30, 2))
    planner.plan(Recorder())
    planner.shift()
    planner.reset(2)
    recorder = Recorder()
    planner.plan(recorder)
    assert recorder.sizes == [40, 32, 25]


def test_converges_on_a_quadratic() -> None:
    # Minimum (0.3, 0.6) inside the box; 5 x 2 = 10 dimensions. Repeated planning without a shift
    # keeps narrowing the distribution.
    target = torch.tensor([0.3, 0.6])
    cost = lambda a: ((a - target) ** 2).sum(dim=(-1, -2))  # noqa: E731
    planner = make_icem(seed=8, horizon=5)
    planner.reset(3)
    first = planner.plan(cost)
    for _ in range(20):
        best = planner.plan(cost)
    rmse = ((best - target) ** 2).mean(dim=(-1, -2)).sqrt()
    assert bool((rmse < 0.02).all()), rmse
    assert bool((cost(best[:, None]) < cost(first[:, None])).all())


def test_batched_problems_are_independent() -> None:
    targets = torch.tensor([[0.5, 0.0], [-0.5, 1.5]])
    cost = lambda a: ((a - targets[:, None, None]) ** 2).sum(dim=(-1, -2))  # noqa: E731
    planner = make_icem(seed=9, horizon=5)
    planner.reset(2)
    for _ in range(20):
        best = planner.plan(cost)
    torch.testing.assert_close(best.mean(dim=1), targets, atol=0.03, rtol=0)


def test_does_not_mutate_inputs() -> None:
    low, high = LOW.clone(), HIGH.clone()
    low_np = np.array([-1.0, -0.5])
    planner = ICEM(low, high, 10, generator=torch.Generator().manual_seed(0))
    ICEM(low_np, [1.0, 2.0], 10, generator=torch.Generator())
    planner.reset(2)
    plan = planner.plan(Recorder())
    kept = plan.clone()
    planner.shift()
    planner.plan(Recorder())
    assert torch.equal(plan, kept)  # a returned plan is not aliased with the planner's state
    assert torch.equal(low, LOW) and torch.equal(high, HIGH)
    np.testing.assert_array_equal(low_np, [-1.0, -0.5])
    mean = planner.mean
    mean += 5.0  # the property hands out a copy
    assert not torch.equal(planner.mean, mean)


def test_same_generator_seed_same_plan() -> None:
    plans = []
    for _ in range(2):
        planner = make_icem(seed=11)
        planner.reset(2)
        steps = []
        for _ in range(3):
            steps.append(planner.plan(Recorder()))
            planner.shift()
        plans.append(torch.stack(steps))
    assert torch.equal(plans[0], plans[1])
    other = make_icem(seed=12)
    other.reset(2)
    assert not torch.equal(other.plan(Recorder()), plans[0][0])


def test_nan_costs_rank_last_never_first() -> None:
    # NaN on every sequence whose first action is positive in dimension 0.
    def cost(actions: torch.Tensor) -> torch.Tensor:
        value = -(actions[..., 0].sum(-1))  # prefers large first components...
        return torch.where(actions[:, :, 0, 0] > 0, torch.full_like(value, math.nan), value)

    planner = make_icem(seed=13)
    planner.reset(3)
    for _ in range(3):
        best = planner.plan(cost)
        assert bool((best[:, 0, 0] <= 0).all())
        assert bool(torch.isfinite(planner.mean).all())
        planner.shift()


def test_only_infinite_costs_raise() -> None:
    planner = make_icem()
    planner.reset(1)
    with pytest.raises(ValueError, match="no finite cost"):
        planner.plan(lambda a: torch.full(a.shape[:2], math.inf))


def test_all_nan_costs_raise() -> None:
    planner = make_icem()
    planner.reset(2)

    def cost(actions: torch.Tensor) -> torch.Tensor:
        costs = torch.zeros(actions.shape[:2])
        costs[1] = math.nan
        return costs

    with pytest.raises(ValueError, match=r"no finite cost for problem\(s\) \[1\]"):
        planner.plan(cost)


@pytest.mark.parametrize(
    ("returned", "match"),
    [
        (
            lambda a: torch.zeros(a.shape[0] * a.shape[1]),
            r"shape \(batch, population\) = \(2, 40\), got \(80,\)",
        ),
        (lambda a: torch.zeros(a.shape[0], a.shape[1], 1), r"got \(2, 40, 1\)"),
        (lambda a: np.zeros(a.shape[:2]), "torch.Tensor"),
        (lambda a: torch.zeros(a.shape[:2], dtype=torch.complex64), "real costs"),
    ],
)
def test_cost_function_of_wrong_shape_or_type(returned, match: str) -> None:
    planner = make_icem()
    planner.reset(2)
    with pytest.raises(ValueError, match=match):
        planner.plan(returned)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"action_low": [[-1.0, -1.0]]}, r"action_low must have shape \(action_dim,\).*\(1, 2\)"),
        ({"action_high": [1.0, 1.0, 1.0]}, r"same shape.*\(2,\) and \(3,\)"),
        ({"action_low": [0.0, 2.0]}, "action_low must be <= action_high"),
        ({"action_low": [-math.inf, 0.0]}, "finite"),
        ({"horizon": 0}, "horizon must be an integer >= 1, got 0"),
        ({"population": 1}, "population must be an integer >= 2"),
        ({"iterations": 0}, "iterations"),
        ({"elites": 0}, "elites"),
        ({"alpha": 1.5}, r"alpha must lie in \[0.0, 1.0\]"),
        ({"init_std": 0.0}, "init_std"),
        ({"noise_beta": -1.0}, "beta"),
        ({"population_decay": 0.5}, "population_decay"),
        ({"elite_reuse_fraction": -0.1}, "elite_reuse_fraction"),
    ],
)
def test_bad_constructor_arguments(kwargs: dict, match: str) -> None:
    args = {"action_low": [-1.0, -1.0], "action_high": [1.0, 1.0], "horizon": 10}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ICEM(args.pop("action_low"), args.pop("action_high"), args.pop("horizon"), **args)


def test_plan_before_reset_and_generator_on_another_device() -> None:
    planner = make_icem()
    with pytest.raises(RuntimeError, match="reset"):
        planner.plan(Recorder())
    with pytest.raises(ValueError, match="batch_size"):
        planner.reset(0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator must be on the planner's device"):
            ICEM(LOW.cuda(), HIGH.cuda(), 10, generator=torch.Generator())


def test_too_many_elites_are_capped() -> None:
    planner = ICEM([-1.0], [1.0], 5, population=6, elites=10, generator=torch.Generator())
    assert planner.num_elites == 3
    assert planner.schedule == [6, 6, 6]


def test_float64_planner() -> None:
    planner = ICEM(
        torch.tensor([-1.0], dtype=torch.float64),
        torch.tensor([1.0], dtype=torch.float64),
        5,
        generator=torch.Generator().manual_seed(0),
    )
    planner.reset(1)
    recorder = Recorder()
    assert planner.plan(recorder).dtype == torch.float64
    assert recorder.calls[0].dtype == torch.float64
