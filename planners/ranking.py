"""Checking the costs a cost function returns, and keeping the best sequence seen.

Costs are minimised. NaN ranks last, tied with ``+inf``: a NaN cost never makes a sequence an elite
ahead of a finite one, and never makes it the executed plan while any non-NaN candidate exists.
"""

from __future__ import annotations

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
        ``(batch, population)`` costs in the actions' dtype, NaN kept (see :func:`ranking_costs`).

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
    return costs.to(device=actions.device, dtype=actions.dtype)


def ranking_costs(costs: torch.Tensor) -> torch.Tensor:
    """Costs with NaN replaced by ``+inf``, so that NaN ranks last in a minimisation.

    Args:
        costs: ``(batch, population)``.

    Returns:
        A new ``(batch, population)`` tensor.
    """
    return torch.where(torch.isnan(costs), torch.full_like(costs, float("inf")), costs)


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
        self.costs = torch.full((batch_size,), float("inf"), device=device, dtype=dtype)
        self._any_number = torch.zeros(batch_size, dtype=torch.bool, device=device)
        self._filled = False

    def update(
        self, candidates: torch.Tensor, costs: torch.Tensor, raw_costs: torch.Tensor
    ) -> None:
        """Take a candidate set into account.

        Args:
            candidates: ``(B, P, H, A)`` action sequences.
            costs: ``(B, P)`` ranking costs (NaN already mapped to ``+inf``).
            raw_costs: ``(B, P)`` costs as returned, used only to tell NaN from ``+inf``.
        """
        best_cost, best_index = costs.min(dim=1)
        best_actions = candidates[
            torch.arange(candidates.shape[0], device=candidates.device), best_index
        ]
        if self._filled:  # only a strictly lower cost replaces the incumbent
            better = best_cost < self.costs
        else:  # the first set replaces the placeholder, so an all-inf problem gets a real sequence
            better = torch.ones_like(best_cost, dtype=torch.bool)
            self._filled = True
        self.costs = torch.where(better, best_cost, self.costs)
        self.actions = torch.where(better[:, None, None], best_actions, self.actions)
        self._any_number = self._any_number | ~torch.isnan(raw_costs).all(dim=1)

    def check(self) -> None:
        """Raise if some problem saw only NaN costs (one host synchronisation).

        Raises:
            ValueError: naming the problems whose every candidate cost was NaN.
        """
        if not bool(self._any_number.all()):
            bad = torch.nonzero(~self._any_number).flatten().tolist()
            raise ValueError(
                f"cost_fn returned NaN for every candidate sequence of problem(s) {bad}; "
                "there is no sequence to execute"
            )
