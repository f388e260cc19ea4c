"""The planners' objective: the task cost of action sequences through a world model's rollout."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

import torch

from planners.costs import Reduction, alive_steps, reduce_along_trajectory
from planners.protocols import RecurrentWorldModel, TaskCost, TrajectoryCost
from planners.ranking import CostFn


def terminal_test(task: TaskCost) -> Callable[[torch.Tensor], torch.Tensor]:
    """The task's predicted-termination test ``terminal(obs (..., O)) -> (...) bool``.

    Raises:
        ValueError: if the task has none (masking after a predicted termination needs one).
    """
    terminal = getattr(task, "terminal", None)
    if not callable(terminal):
        raise ValueError(
            f"mask_terminal: the task cost {type(task).__name__} has no terminal(obs) test, so "
            "no predicted termination can be masked"
        )
    return terminal


def make_objective(
    model: RecurrentWorldModel,
    state: torch.Tensor,
    obs: torch.Tensor,
    task: TaskCost | TrajectoryCost,
    *,
    reduction: Reduction = "sum",
    rows: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    mask_terminal: bool = False,
    rollout_kwargs: Mapping[str, Any] | None = None,
) -> CostFn:
    """Cost function of action sequences through the model's rollout.

    Args:
        model: world model with ``rollout`` (and ``rollout(..., return_states=True)`` when the
            task reads latent states).
        state: ``(B, state_size)`` filtered states.
        obs: ``(B, obs_dim)`` current real observations.
        task: per-step task cost of predicted observations, or a
            :class:`~planners.protocols.TrajectoryCost` whose step costs also read the actions
            and the model's states (:class:`~planners.trajectory_costs.CostWithTerms`).
        reduction: how step costs are reduced along the horizon.
        rows: ``(n,)`` int64 indices of the problems to evaluate; the others get cost 0 without a
            rollout. All problems when ``None``.
        mask: ``(B,)`` bool, the problems to evaluate (fixed shapes): every problem is rolled
            out and the others' costs are set to 0 on the device, without a host sync.
        mask_terminal: leave out the steps after the first predicted termination
            (``task.terminal`` on the predictions; :func:`planners.costs.alive_steps`).
        rollout_kwargs: extra keyword arguments of ``model.rollout`` (e.g. ``check_nan=False`` for
            mbplan's world models, which skips their one host synchronisation per call).

    A model with ``rollout_members`` (an ensemble, ``mbplan.models.ensemble``) is costed member by
    member: every member's predicted trajectory gets its own step costs, termination mask and
    reduction, and a candidate's cost is the mean over members.

    Returns:
        ``cost_fn(actions (B, P, H, A)) -> costs (B, P)``.

    Raises:
        ValueError: with ``mask_terminal`` for a task without a ``terminal`` test; for a task
            reading latent states with a model whose ``rollout`` cannot return them, or with
            an ensemble.
    """
    extra = dict(rollout_kwargs or {})
    terminal = terminal_test(task) if mask_terminal else None  # type: ignore[arg-type]
    trajectory = task if isinstance(task, TrajectoryCost) else None
    needs_states = trajectory is not None and bool(trajectory.needs_states)
    ensemble = getattr(model, "rollout_members", None)
    if ensemble is not None and needs_states:
        raise ValueError(
            f"the task cost reads latent states, but {type(model).__name__} is an ensemble "
            "whose members' states differ in meaning"
        )
    if needs_states and "return_states" not in inspect.signature(model.rollout).parameters:
        raise ValueError(
            f"the task cost reads latent states, but {type(model).__name__}.rollout has no "
            "return_states option to return them"
        )

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
        flat_actions = chosen.reshape(n * population, horizon, action_dim)
        members = 1
        if ensemble is not None:  # (M, N, H, O): every member's trajectory, costed one by one
            stacked, _ = ensemble(flat_state, flat_obs, flat_actions, **extra)
            members = stacked.shape[0]
            pred, states = stacked.reshape(-1, *stacked.shape[2:]), None
            if trajectory is not None:  # the action terms see every member's copy of the plan
                flat_actions = flat_actions.repeat(members, 1, 1)
        elif needs_states:
            pred, _, states = model.rollout(  # type: ignore[call-arg, misc]
                flat_state, flat_obs, flat_actions, return_states=True, **extra
            )
        else:
            pred, _ = model.rollout(flat_state, flat_obs, flat_actions, **extra)
            states = None
        if trajectory is not None:
            per_step = trajectory.trajectory_cost(pred, flat_actions.to(pred.dtype), states)
        else:
            per_step = task.step_cost(pred)  # type: ignore[union-attr]
        alive = None if terminal is None else alive_steps(terminal(pred))
        costs = reduce_along_trajectory(per_step, reduction, alive)
        costs = costs.reshape(members, n, population).mean(dim=0)
        costs = costs.to(actions.dtype)
        if mask is not None:
            return torch.where(mask[:, None], costs, 0.0)
        if rows is None:
            return costs
        full = torch.zeros(batch, population, device=costs.device, dtype=costs.dtype)
        return full.index_copy(0, rows, costs)

    return cost_fn
