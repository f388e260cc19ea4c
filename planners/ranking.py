"""Checking the costs a cost function returns, and keeping the best sequence seen.

Costs are minimised. NaN ranks last, tied with ``+inf``: a NaN cost never makes a sequence an elite
ahead of a finite one, and never makes it the executed plan. ``-inf`` is a valid cost (the best
possible, e.g. a task cost of ``log 0``). A plan in which some problem saw only NaN or ``+inf``
raises a ``ValueError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

#: ``cost_fn(actions (batch, population, horizon, action_dim)) -> costs (batch, population)``.
CostFn = Callable[[torch.Tensor], torch.Tensor]


def evaluate_costs(cost_fn: CostFn, actions: torch.Tensor) -> torch.Tensor:
    """Call ``cost_fn`` on a population and check what it returns.

    Args:
        cost_fn: maps ``(batch, population, horizon, action_dim)`` actions to
            ``(batch, population)`` costs, lower is better.
        actions: ``(batch, population, horizon, action_dim)``.

    Returns:
        ``(batch, population)`` ranking costs in the actions' dtype, NaN mapped to ``+inf``.

    Raises:
        ValueError: if the result is not a floating tensor of shape ``(batch, population)``.
    """
    costs = cost_fn(actions)
    expected = tuple(actions.shape[:2])
    if not isinstance(costs, torch.Tensor):
        raise ValueError(
            f"cost_fn must return a torch.Tensor of shape {expected}, got {type(costs).__name__}"
        )
    if tuple(costs.shape) != expected:
        raise ValueError(
            f"cost_fn must return costs of shape (batch, population) = {expected}, "
            f"got {tuple(costs.shape)}"
        )
    if not (costs.is_floating_point() or costs.dtype in (torch.int32, torch.int64, torch.bool)):
        raise ValueError(f"cost_fn must return real costs, got dtype {costs.dtype}")
    return ranking_costs(costs.to(device=actions.device, dtype=actions.dtype))


def ranking_costs(costs: torch.Tensor) -> torch.Tensor:
    """Costs with NaN replaced by ``+inf``, so that NaN ranks last in a minimisation.

    Args:
        costs: ``(batch, population)``.

    Returns:
        A new ``(batch, population)`` tensor; finite and infinite values unchanged.
    """
    return torch.nan_to_num(costs, nan=math.inf, posinf=math.inf, neginf=-math.inf)


def check_some_finite(best_costs: torch.Tensor) -> None:
    """Raise unless every problem saw a usable cost: finite or ``-inf`` (one host synchronisation).

    Args:
        best_costs: ``(batch,)`` lowest ranking cost seen per problem.

    Raises:
        ValueError: naming the problems for which ``cost_fn`` returned only NaN or ``+inf``.
    """
    usable = best_costs < math.inf  # False for +inf and NaN; True for -inf
    if not bool(usable.all()):
        bad = torch.nonzero(~usable).flatten().tolist()
        raise ValueError(
            f"cost_fn returned no finite cost for problem(s) {bad}: NaN and +inf rank last, so "
            "there is no sequence to execute"
        )


class BestSequence:
    """The lowest-cost action sequence seen per problem over the iterations of one plan.

    Args:
        batch_size: number of independent problems ``B``.
        horizon: sequence length ``H``.
        action_dim: action dimension ``A``.
        device: device of the stored tensors.
        dtype: floating dtype of actions and costs.
    """

    def __init__(
        self,
        batch_size: int,
        horizon: int,
        action_dim: int,
        *,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.actions = torch.zeros(batch_size, horizon, action_dim, device=device, dtype=dtype)
        self.costs = torch.full((batch_size,), math.inf, device=device, dtype=dtype)

    def update(self, candidates: torch.Tensor, costs: torch.Tensor) -> None:
        """Take a candidate set into account; only a strictly lower cost replaces the incumbent.

        Args:
            candidates: ``(B, P, H, A)`` action sequences.
            costs: ``(B, P)`` ranking costs (NaN already mapped to ``+inf``).
        """
        best_cost, best_index = costs.min(dim=1)
        index = best_index[:, None, None, None].expand(-1, 1, *candidates.shape[2:])
        best_actions = torch.gather(candidates, 1, index)[:, 0]
        better = best_cost < self.costs
        # in place: the buffers of a fixed-shape planner keep their storage
        self.actions.copy_(torch.where(better[:, None, None], best_actions, self.actions))
        self.costs.copy_(torch.where(better, best_cost, self.costs))

    def clear(self) -> None:
        """Forget the incumbent (costs ``+inf``), in place."""
        self.costs.fill_(math.inf)
        self.actions.zero_()

    def check(self) -> None:
        """Raise if some problem saw no finite cost (see :func:`check_some_finite`)."""
        check_some_finite(self.costs)
