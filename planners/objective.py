"""The planners' objective: the task cost of action sequences through a world model's rollout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from planners.costs import Reduction, reduce_along_trajectory
from planners.protocols import RecurrentWorldModel, TaskCost
from planners.ranking import CostFn


def make_objective(
    model: RecurrentWorldModel,
    state: torch.Tensor,
    obs: torch.Tensor,
    task: TaskCost,
    *,
    reduction: Reduction = "sum",
    rows: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    rollout_kwargs: Mapping[str, Any] | None = None,
) -> CostFn:
    """Cost function of action sequences through the model's rollout.

    Args:
        model: world model with ``rollout``.
        state: ``(B, state_size)`` filtered states.
        obs: ``(B, obs_dim)`` current real observations.
        task: per-step task cost of predicted observations.
        reduction: how step costs are reduced along the horizon.
        rows: ``(n,)`` int64 indices of the problems to evaluate; the others get cost 0 without a
            rollout. All problems when ``None``.
        mask: ``(B,)`` bool, the problems to evaluate (fixed shapes): every problem is rolled
            out and the others' costs are set to 0 on the device, without a host sync.
        rollout_kwargs: extra keyword arguments of ``model.rollout`` (e.g. ``check_nan=False`` for
            mbplan's world models, which skips their one host synchronisation per call).

    Returns:
        ``cost_fn(actions (B, P, H, A)) -> costs (B, P)``.
    """
    extra = dict(rollout_kwargs or {})

    @torch.no_grad()
    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        batch, population, horizon, action_dim = actions.shape
        chosen = actions if rows is None else actions.index_select(0, rows)
        sel_state = state if rows is None else state.index_select(0, rows)
        sel_obs = obs if rows is None else obs.index_select(0, rows)
        n = chosen.shape[0]
        if n == 0:
            return actions.new_zeros(batch, population)
        flat_state = sel_state.unsqueeze(1).expand(n, population, -1).reshape(n * population, -1)
        flat_obs = sel_obs.unsqueeze(1).expand(n, population, -1).reshape(n * population, -1)
        pred, _ = model.rollout(
            flat_state, flat_obs, chosen.reshape(n * population, horizon, action_dim), **extra
        )
        costs = reduce_along_trajectory(task.step_cost(pred), reduction).reshape(n, population)
        costs = costs.to(actions.dtype)
        if mask is not None:
            return torch.where(mask[:, None], costs, 0.0)
        if rows is None:
            return costs
        full = torch.zeros(batch, population, device=costs.device, dtype=costs.dtype)
        return full.index_copy(0, rows, costs)

    return cost_fn
