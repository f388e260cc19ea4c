"""Model-predictive path integral control (MPPI; Williams et al., 2017) on the shared sampler.

Each iteration draws ``population`` sequences from the shared scale-and-clip sampler
(:meth:`~planners.sampling.SamplingPlanner.sample`, white noise by default, colored with
``noise_beta > 0``) and moves the mean to the cost-weighted average of the sampled sequences,

    ``w_p = softmax_p(-cost_p / temperature)``,  ``mean <- sum_p w_p * actions_p``,

which is ``mean + sum_p w_p * noise_p`` with the noise measured after clipping (as pytorch_mppi
does). The std stays at its initial value; warm starts use the shared :meth:`shift`.

Deviations from the original formulation: no control-cost term ``lambda * u^T Sigma^-1 eps`` (as in
mbrl-lib's ``MPPIOptimizer``), and the returned plan is the updated mean (``return_best=False``) or
the lowest-cost sequence seen (``return_best=True``). Candidates with non-finite costs get weight
zero; a problem whose costs are all ``+inf`` averages its samples uniformly.
"""

from __future__ import annotations

import math

import torch

from planners.action_box import ArrayLike
from planners.ranking import BestSequence, CostFn, evaluate_costs
from planners.sampling import SamplingPlanner, check_fraction, check_positive_int


def mppi_weights(costs: torch.Tensor, temperature: float) -> torch.Tensor:
    """Path-integral weights ``softmax(-cost / temperature)`` over the population.

    Args:
        costs: ``(batch, population)`` ranking costs (NaN already mapped to ``+inf``).
        temperature: ``lambda > 0``.

    Returns:
        ``(batch, population)`` non-negative weights summing to one per problem; where some
        candidates cost ``-inf`` they share the weight equally (the limit of the softmax).
    """
    finite = torch.isfinite(costs)
    logits = torch.where(finite, -costs / temperature, torch.full_like(costs, -math.inf))
    # a -inf cost beats every finite one: such candidates share the weight equally
    best = costs == -math.inf
    logits = torch.where(best.any(dim=1, keepdim=True), torch.where(best, 0.0, -math.inf), logits)
    none_usable = ~(finite | best).any(dim=1, keepdim=True)
    logits = torch.where(none_usable, torch.zeros_like(logits), logits)
    return torch.softmax(logits, dim=1)


class MPPI(SamplingPlanner):
    """MPPI trajectory optimiser.

    Args:
        action_low: lower action bounds, shape ``(action_dim,)``.
        action_high: upper action bounds, shape ``(action_dim,)``.
        horizon: planning horizon ``H`` (30).
        population: sequences sampled per iteration (100).
        iterations: weighted-average updates per MPC step (1).
        temperature: ``lambda`` of the exponential weights, in cost units (1.0).
        init_std: sampling std relative to the half range of the box (0.5).
        noise_beta: colored-noise exponent along the horizon (0.0, white).
        return_best: return the lowest-cost sequence seen instead of the updated mean (False).
        generator: source of all randomness, on the planner's device.
        device: device of the planner.
        dtype: floating dtype of the actions.
        fixed_shape: preallocate the samples, best sequence and warm start in :meth:`reset` and
            do no host synchronisation in :meth:`plan`; a problem whose costs are all NaN or
            ``+inf`` is flagged (:meth:`nonfinite_problems`) instead of raising (False).
    """

    def __init__(
        self,
        action_low: ArrayLike,
        action_high: ArrayLike,
        horizon: int = 30,
        *,
        population: int = 100,
        iterations: int = 1,
        temperature: float = 1.0,
        init_std: float = 0.5,
        noise_beta: float = 0.0,
        return_best: bool = False,
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
        self.population = check_positive_int(population, "population")
        self.iterations = check_positive_int(iterations, "iterations")
        self.temperature = check_fraction(
            temperature, "temperature", low=0.0, high=math.inf, open_low=True
        )
        self.return_best = bool(return_best)
        self._samples: torch.Tensor | None = None
        self._best: BestSequence | None = None

    def reset(self, batch_size: int = 1) -> None:
        """Start an episode (see :meth:`SamplingPlanner.reset`); fixed-shape buffers are made here.

        Args:
            batch_size: number of independent problems ``B``.
        """
        super().reset(batch_size)
        self._samples = self._best = None
        if self.fixed_shape:
            options = {"device": self.device, "dtype": self.dtype}
            shape = (batch_size, self.population, self.horizon, self.action_dim)
            self._samples = torch.empty(shape, **options)
            self._best = BestSequence(batch_size, self.horizon, self.action_dim, **options)

    def plan(self, cost_fn: CostFn) -> torch.Tensor:
        """Run the MPPI updates of one MPC step for all problems.

        Args:
            cost_fn: ``(batch, population, horizon, action_dim) -> (batch, population)`` costs,
                lower is better; NaN gets weight zero.

        Returns:
            ``(batch, horizon, action_dim)``: the updated mean, or the best sequence seen when
            ``return_best``; execute ``[:, 0]``.

        Raises:
            RuntimeError: if :meth:`reset` was not called.
            ValueError: if ``cost_fn`` returns the wrong shape, or no finite cost for some problem.
        """
        mean, std = self._require_reset()
        best = self._best
        if best is None:
            best = BestSequence(
                mean.shape[0], self.horizon, self.action_dim, device=self.device, dtype=self.dtype
            )
        else:
            best.clear()
        for _ in range(self.iterations):
            samples = self.sample(mean, std, self.population, out=self._samples)
            costs = evaluate_costs(cost_fn, samples)
            best.update(samples, costs)
            weights = mppi_weights(costs, self.temperature)
            mean = torch.einsum("bp,bpha->bha", weights, samples)
            self._set_distribution(mean, std)
            mean = self._require_reset()[0]
        self._report_plan_costs(best.costs)
        return best.actions.clone() if self.return_best else mean.clone()
