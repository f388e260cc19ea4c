"""iCEM, the improved cross-entropy method (Pinneri et al., CoRL 2020), batched in torch.

Behaviour follows the authors' reference code (``martius-lab/iCEM`` ``icem/controllers/icem.py``;
``shared/reference/icem.md`` Sec. 1), for ``B`` independent problems at once. One call of
:meth:`ICEM.plan` is one MPC step:

* iteration ``i`` samples ``N_i`` sequences with ``N_0 = population`` and
  ``N_i = max(2 K, floor(N_{i-1} / population_decay))`` (cumulative, floored at twice the elites);
* samples are ``clip(mean + std * colored_noise)`` with exponent ``noise_beta`` along the horizon;
* at ``i = 0`` the best ``floor(elite_reuse_fraction * K)`` elites of the previous MPC step, shifted
  by one step with a fresh clipped colored-noise last action, join the population
  (``shift_elites``);
* at ``i > 0`` the best ``floor(elite_reuse_fraction * K)`` elites of the previous iteration join
  the candidates with their stored costs, without being simulated again (``keep_previous_elites``);
* in the last iteration sample 0 is replaced by the mean (``mean_as_sample``);
* the ``K`` lowest-cost candidates refit ``mean = (1 - alpha) * elite_mean + alpha * mean`` and
  ``std = (1 - alpha) * elite_std + alpha * std`` (population std, ``ddof = 0``);
* the plan returned is the lowest-cost sequence seen; :meth:`shift` then moves the mean one step
  earlier (keeping its last entry) and resets the std.

With the default blitz settings the sampled sizes are 40, 32, 25 (43, 32, 25 once shifted elites
exist) plus 3 kept elites in iterations 1 and 2.

Deviations from the reference, all without effect at the defaults:

* The plan is the best sequence over *all* iterations. With kept elites (the default) that is the
  reference's rule, the best of the last iteration's candidate set, which holds the best of every
  earlier iteration; without kept elites the reference would forget earlier iterations' best.
* A plan in which some problem saw no finite cost raises a ``ValueError`` (NaN ranks last).
* The population floor uses the effective elite count ``K = max(2, min(elites, population // 2))``
  rather than the configured one, so the population never grows when ``elites > population / 2``.
"""

from __future__ import annotations

import logging
import math

import torch

from planners.action_box import ArrayLike
from planners.ranking import BestSequence, CostFn, evaluate_costs
from planners.sampling import SamplingPlanner, check_fraction, check_positive_int

logger = logging.getLogger(__name__)


def population_schedule(population: int, iterations: int, decay: float, floor: int) -> list[int]:
    """Sizes sampled per iteration, ``N_0 = population``, ``N_i = max(floor, int(N_{i-1}/decay))``.

    Args:
        population: first population ``N_0``.
        iterations: number of iterations.
        decay: factor ``gamma >= 1`` by which the population shrinks per iteration.
        floor: smallest population after the first iteration (twice the elites in iCEM).

    Returns:
        ``iterations`` sizes.
    """
    sizes = [population]
    for _ in range(1, iterations):
        sizes.append(max(floor, int(sizes[-1] / decay)))
    return sizes


def gather_sequences(sequences: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Pick sequences per problem.

    Args:
        sequences: ``(batch, population, horizon, action_dim)``.
        index: ``(batch, count)`` indices into the population axis.

    Returns:
        ``(batch, count, horizon, action_dim)``.
    """
    expanded = index[:, :, None, None].expand(-1, -1, *sequences.shape[2:])
    return torch.gather(sequences, 1, expanded)


class ICEM(SamplingPlanner):
    """The iCEM trajectory optimiser with the reference's "blitz" defaults.

    Args:
        action_low: lower action bounds, shape ``(action_dim,)``.
        action_high: upper action bounds, shape ``(action_dim,)``.
        horizon: planning horizon ``H`` (30).
        population: sequences sampled in the first iteration ``N`` (40).
        iterations: optimisation iterations per MPC step (3).
        elites: number of elites ``K`` (10); at least 2 and at most ``population // 2`` are used.
        alpha: momentum on the *old* mean and std (0.1).
        init_std: initial std relative to the half range of the box (0.5).
        noise_beta: colored-noise exponent along the horizon (3.0).
        population_decay: factor ``gamma`` by which the population shrinks per iteration (1.25).
        elite_reuse_fraction: fraction ``xi`` of elites kept between iterations and shifted between
            MPC steps (0.3).
        keep_previous_elites: keep the best elites of the previous iteration as candidates (True).
        shift_elites: add the shifted best elites of the previous MPC step (True).
        mean_as_sample: replace sample 0 of the last iteration by the mean (True).
        generator: source of all randomness, on the planner's device.
        device: device of the planner (see :class:`~planners.sampling.SamplingPlanner`).
        dtype: floating dtype of the actions.
        fixed_shape: preallocate every buffer (candidates, costs, elites, carried elites, warm
            start) in :meth:`reset` for the known schedule, call ``cost_fn`` with the same
            population sizes at every MPC step, and do no host synchronisation in :meth:`plan`:
            a problem without a finite cost is flagged (:meth:`nonfinite_problems`) instead of
            raising. Same draws and same plans as the eager path (False).

    Raises:
        ValueError: for any argument outside its range, naming it.
    """

    def __init__(
        self,
        action_low: ArrayLike,
        action_high: ArrayLike,
        horizon: int = 30,
        *,
        population: int = 40,
        iterations: int = 3,
        elites: int = 10,
        alpha: float = 0.1,
        init_std: float = 0.5,
        noise_beta: float = 3.0,
        population_decay: float = 1.25,
        elite_reuse_fraction: float = 0.3,
        keep_previous_elites: bool = True,
        shift_elites: bool = True,
        mean_as_sample: bool = True,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        fixed_shape: bool = False,
    ) -> None:
        super().__init__(
            action_low,
            action_high,
            horizon,
            init_std=init_std,
            noise_beta=noise_beta,
            generator=generator,
            device=device,
            dtype=dtype,
            fixed_shape=fixed_shape,
        )
        self.population = check_positive_int(population, "population", minimum=2)
        self.iterations = check_positive_int(iterations, "iterations")
        requested = check_positive_int(elites, "elites")
        self.num_elites = max(2, min(requested, self.population // 2))
        if self.num_elites != requested:
            logger.warning(
                "elites=%d does not fit population=%d; using %d elites",
                requested,
                self.population,
                self.num_elites,
            )
        self.alpha = check_fraction(alpha, "alpha", low=0.0, high=1.0, open_low=False)
        self.population_decay = check_fraction(
            population_decay, "population_decay", low=1.0, high=math.inf, open_low=False
        )
        self.elite_reuse_fraction = check_fraction(
            elite_reuse_fraction, "elite_reuse_fraction", low=0.0, high=1.0, open_low=False
        )
        self.keep_previous_elites = bool(keep_previous_elites)
        self.shift_elites = bool(shift_elites)
        self.mean_as_sample = bool(mean_as_sample)
        self.schedule = population_schedule(
            self.population, self.iterations, self.population_decay, 2 * self.num_elites
        )
        self.num_reused = int(self.num_elites * self.elite_reuse_fraction)
        #: ``(simulated, candidates)`` per iteration of the last :meth:`plan` call.
        self.last_iteration_sizes: list[tuple[int, int]] = []
        self._elites: torch.Tensor | None = None  # (B, K, H, A) of the last iteration, cost-sorted
        self._carried: torch.Tensor | None = None  # (B, reused, H - 1, A) shifted best elites
        self._buffers: _FixedBuffers | None = None

    @property
    def _keeps_best(self) -> bool:
        # With kept elites the best candidate of every iteration is carried into the next one, so
        # the best of the last candidate set (elite 0) is the best seen; otherwise track it.
        return self.keep_previous_elites and self.num_reused > 0

    def _extra_candidates(self, iteration: int) -> int:
        """Candidates beyond the sampled ones: shifted elites at 0, kept elites later."""
        if iteration == 0:
            return self.num_reused if self.shift_elites else 0
        return self.num_reused if self._keeps_best else 0

    def reset(self, batch_size: int = 1) -> None:
        """Start an episode: midpoint mean, initial std, and no elites carried over.

        Args:
            batch_size: number of independent problems ``B``.
        """
        super().reset(batch_size)
        self._elites = None
        self._carried = None
        self._buffers = None
        if self.fixed_shape:
            self._buffers = _FixedBuffers(self, batch_size)

    def shift(self) -> None:
        """Advance the warm start by one step: shift mean and best elites, reset the std."""
        super().shift()
        if self._buffers is not None:
            self._buffers.shift_elites(self)
            return
        self._carried = None
        if self.shift_elites and self._elites is not None and self.num_reused > 0:
            self._carried = self._elites[:, : self.num_reused, 1:]

    def _with_carried_elites(
        self, samples: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
    ) -> torch.Tensor:
        """Append the shifted elites, each completed by the last step of a fresh clipped sample."""
        if self._carried is None:
            return samples
        fresh = self.sample(mean, std, self._carried.shape[1])
        carried = torch.cat([self._carried, fresh[:, :, -1:]], dim=2)
        return torch.cat([samples, carried], dim=1)

    def _refit(
        self, elites: torch.Tensor, mean: torch.Tensor, std: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Momentum update of mean and std from ``(B, K, H, A)`` elites."""
        elite_std, elite_mean = torch.std_mean(elites, dim=1, correction=0)
        # lerp(elite, old, alpha) = (1 - alpha) * elite + alpha * old
        return torch.lerp(elite_mean, mean, self.alpha), torch.lerp(elite_std, std, self.alpha)

    def plan(self, cost_fn: CostFn) -> torch.Tensor:
        """Run the iCEM iterations of one MPC step for all problems.

        Args:
            cost_fn: ``(batch, population, horizon, action_dim) -> (batch, population)`` costs,
                lower is better; NaN ranks last. Population sizes change between iterations.

        Returns:
            ``(batch, horizon, action_dim)``: the lowest-cost sequence seen; execute ``[:, 0]``.

        Raises:
            RuntimeError: if :meth:`reset` was not called.
            ValueError: if ``cost_fn`` returns the wrong shape, or no finite cost for some problem.
        """
        mean, std = self._require_reset()
        if self._buffers is not None:
            return self._plan_fixed(cost_fn, self._buffers)
        keeps_best = self._keeps_best
        best = None
        if self.iterations > 1 and not keeps_best:
            best = BestSequence(
                mean.shape[0], self.horizon, self.action_dim, device=self.device, dtype=self.dtype
            )
        elites: torch.Tensor | None = None
        elite_costs: torch.Tensor | None = None
        sizes: list[tuple[int, int]] = []
        last = self.iterations - 1
        for iteration, count in enumerate(self.schedule):
            samples = self.sample(mean, std, count)
            if iteration == last and self.mean_as_sample:
                samples[:, 0] = mean
            if iteration == 0:
                samples = self._with_carried_elites(samples, mean, std)
            candidates = samples
            costs = evaluate_costs(cost_fn, samples)
            if iteration > 0 and keeps_best and elites is not None and elite_costs is not None:
                candidates = torch.cat([candidates, elites[:, : self.num_reused]], dim=1)
                costs = torch.cat([costs, elite_costs[:, : self.num_reused]], dim=1)
            sizes.append((samples.shape[1], candidates.shape[1]))
            if best is not None:
                best.update(candidates, costs)
            elite_costs, index = torch.topk(costs, self.num_elites, dim=1, largest=False)
            elites = gather_sequences(candidates, index)
            mean, std = self._refit(elites, mean, std)
        assert elites is not None and elite_costs is not None  # iterations >= 1
        if best is None:
            plan, plan_costs = elites[:, 0].clone(), elite_costs[:, 0]
        else:
            plan, plan_costs = best.actions, best.costs
        self._report_plan_costs(plan_costs)
        self._set_distribution(mean, std)
        self._elites = elites
        self._carried = None
        self.last_iteration_sizes = sizes
        return plan

    def _plan_fixed(self, cost_fn: CostFn, buffers: _FixedBuffers) -> torch.Tensor:
        """:meth:`plan` on the preallocated buffers: same draws, same ranking, no host sync.

        Iteration 0 always evaluates ``N_0 + reused`` candidates; before the first shift the
        reused slots hold the box midpoint and rank last (cost ``+inf``), so the result equals
        the eager path, which evaluates ``N_0`` only.
        """
        mean, std = buffers.mean, buffers.std
        best = buffers.best
        if best is not None:
            best.clear()
        last = self.iterations - 1
        sizes: list[tuple[int, int]] = []
        for iteration, count in enumerate(self.schedule):
            candidates, costs = buffers.candidates[iteration], buffers.costs[iteration]
            samples = self.sample(mean, std, count, out=candidates[:, :count])
            if iteration == last and self.mean_as_sample:
                samples[:, 0] = mean
            extra = candidates.shape[1] - count
            simulated = count
            if iteration == 0 and extra:
                simulated = candidates.shape[1]
                carried = candidates[:, count:]
                if buffers.has_carried:
                    fresh = self.sample(mean, std, extra)
                    carried[:, :, :-1] = buffers.carried
                    carried[:, :, -1:] = fresh[:, :, -1:]
                else:
                    carried.copy_(self.box.middle)
            costs[:, :simulated] = evaluate_costs(cost_fn, candidates[:, :simulated])
            if iteration == 0 and extra and not buffers.has_carried:
                costs[:, count:] = math.inf
            elif iteration > 0 and extra:
                candidates[:, count:] = buffers.elites[:, :extra]
                costs[:, count:] = buffers.elite_costs[:, :extra]
            usable = count if iteration == 0 and not buffers.has_carried else costs.shape[1]
            sizes.append((min(simulated, usable), usable))
            if best is not None:
                best.update(candidates, costs)
            torch.topk(
                costs,
                self.num_elites,
                dim=1,
                largest=False,
                out=(buffers.elite_costs, buffers.elite_index),
            )
            torch.gather(
                candidates,
                1,
                buffers.elite_index[:, :, None, None].expand(-1, -1, *candidates.shape[2:]),
                out=buffers.elites,
            )
            new_mean, new_std = self._refit(buffers.elites, mean, std)
            mean.copy_(new_mean)
            std.copy_(new_std)
        if best is None:
            plan, plan_costs = buffers.elites[:, 0].clone(), buffers.elite_costs[:, 0]
        else:
            plan, plan_costs = best.actions.clone(), best.costs
        self._report_plan_costs(plan_costs)
        buffers.has_carried = False
        self._elites = buffers.elites
        self.last_iteration_sizes = sizes
        return plan


class _FixedBuffers:
    """Every tensor of an iCEM MPC step, allocated once per (batch, schedule, horizon, action dim).

    Attributes:
        candidates: per iteration ``(B, N_i + extra_i, H, A)``; the sampled ones first.
        costs: per iteration ``(B, N_i + extra_i)`` ranking costs.
        elites: ``(B, K, H, A)`` cost-sorted elites of the last iteration; ``elite_costs``,
            ``elite_index`` ``(B, K)``.
        carried: ``(B, reused, H - 1, A)`` the shifted best elites of the previous MPC step,
            valid when ``has_carried``.
        best: the best sequence seen, when kept elites do not carry it.
    """

    def __init__(self, planner: ICEM, batch: int) -> None:
        mean, std = planner._require_reset()
        self.mean, self.std = mean, std
        horizon, action_dim = planner.horizon, planner.action_dim
        options = {"device": planner.device, "dtype": planner.dtype}
        self.candidates = []
        self.costs = []
        for iteration, count in enumerate(planner.schedule):
            total = count + planner._extra_candidates(iteration)
            self.candidates.append(torch.empty(batch, total, horizon, action_dim, **options))
            self.costs.append(torch.empty(batch, total, **options))
        elites = planner.num_elites
        self.elites = torch.zeros(batch, elites, horizon, action_dim, **options)
        self.elite_costs = torch.empty(batch, elites, **options)
        self.elite_index = torch.empty(batch, elites, dtype=torch.int64, device=planner.device)
        self.carried = torch.empty(batch, planner.num_reused, horizon - 1, action_dim, **options)
        self.has_carried = False
        self.best = None
        if planner.iterations > 1 and not planner._keeps_best:
            self.best = BestSequence(batch, horizon, action_dim, **options)

    def shift_elites(self, planner: ICEM) -> None:
        """Store the shifted best elites of the plan just made (after :meth:`ICEM.shift`)."""
        if planner.shift_elites and planner.num_reused > 0 and planner._elites is not None:
            self.carried.copy_(self.elites[:, : planner.num_reused, 1:])
            self.has_carried = True
