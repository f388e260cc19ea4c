"""Cost terms that read the planned actions and the model's latent states, added to a task cost.

A :class:`~planners.protocols.TaskCost` prices predicted observations only. Researchers also plan
with costs on the actions (effort, smoothness) and on the world model's latent state (reaching a
latent goal, as in latent-space planning, or staying near states seen in training). A term is any
callable ``term(obs (N, H, O), actions (N, H, A), states (N, H, S) | None) -> (N, H)`` with a
``needs_states`` attribute; :class:`CostWithTerms` adds terms to a task cost and is what the
objective (:func:`planners.objective.make_objective`) and :class:`~planners.agent.MPCAgent` take
in place of the task cost. The latent states are the model's packed state after each step
(``WorldModel.rollout(..., return_states=True)``; for GateL0RD the latent ``h``, for an LSTM
``[h, c]``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from planners.protocols import TaskCost


@runtime_checkable
class CostTerm(Protocol):
    """One additive term of the step cost; see the module docstring."""

    needs_states: bool

    def __call__(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """``(N, H)`` step costs."""
        ...


class _WeightedTerm:
    """A term ``weight * f(...)``; ``weight`` must be finite and >= 0."""

    needs_states = False

    def __init__(self, weight: float) -> None:
        if not 0.0 <= weight < float("inf"):
            raise ValueError(f"weight must be finite and >= 0, got {weight!r}")
        self.weight = float(weight)


class ActionPenalty(_WeightedTerm):
    """``weight * ||a_t||^2`` per step: the effort term of most MPC costs.

    Args:
        weight: factor, >= 0.
    """

    def __call__(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """``(N, H)`` effort of ``actions (N, H, A)``."""
        return self.weight * actions.square().sum(dim=-1)


class ActionSmoothness(_WeightedTerm):
    """``weight * ||a_t - a_{t-1}||^2`` per step (0 at step 0): penalises jerky plans.

    Args:
        weight: factor, >= 0.
    """

    def __call__(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """``(N, H)`` squared action changes of ``actions (N, H, A)``."""
        change = torch.diff(actions, dim=1, prepend=actions[:, :1]).square().sum(dim=-1)
        return self.weight * change


class LatentGoal(_WeightedTerm):
    """``weight * ||s_t[dims] - goal||`` per step: reach a goal given as a latent model state.

    The goal is a state of the same model, e.g. the state it filters from an observation
    sequence that shows the goal (``model.initial_state`` + ``model.step``), so the planner can
    aim at what the latent state encodes (a gate open, a robot controlled) and not only at what
    the observation shows.

    Args:
        goal: ``(S,)`` or ``(len(dims),)`` target state.
        weight: factor, >= 0.
        dims: the state entries compared (all when ``None``).
    """

    needs_states = True

    def __init__(
        self, goal: torch.Tensor, weight: float = 1.0, dims: Sequence[int] | None = None
    ) -> None:
        if goal.ndim != 1:
            raise ValueError(f"goal must be a (state_size,) vector, got shape {tuple(goal.shape)}")
        if not torch.isfinite(goal).all():
            raise ValueError("goal must be finite, got NaN/inf entries")
        super().__init__(weight)
        if dims is not None and len(dims) != goal.shape[0]:
            raise ValueError(f"goal has {goal.shape[0]} entries but dims names {len(dims)}")
        self.goal = goal.detach()
        self.dims = None if dims is None else torch.as_tensor(list(dims), dtype=torch.long)

    def __call__(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """``(N, H)`` distances of ``states (N, H, S)`` to the goal."""
        if states is None:
            raise ValueError("LatentGoal needs the model's states (rollout return_states=True)")
        chosen = states
        if self.dims is not None:
            chosen = states.index_select(-1, self.dims.to(states.device))
        if chosen.shape[-1] != self.goal.shape[0]:
            raise ValueError(
                f"LatentGoal: goal has {self.goal.shape[0]} entries, the states "
                f"{chosen.shape[-1]} (state_size {states.shape[-1]})"
            )
        goal = self.goal.to(chosen.device, chosen.dtype)
        return self.weight * torch.linalg.vector_norm(chosen - goal, dim=-1)


class CostWithTerms:
    """A task cost plus terms that read the actions and latent states (a ``TrajectoryCost``).

    ``step_cost``, ``is_success`` and ``terminal`` (when the task has one) are the task's, so it
    stands in for the task cost everywhere; the objective calls :meth:`trajectory_cost`.

    Args:
        task: the task cost of predicted observations.
        terms: the added terms (:class:`ActionPenalty`, :class:`ActionSmoothness`,
            :class:`LatentGoal` or any :class:`CostTerm`).
    """

    def __init__(self, task: TaskCost, terms: Sequence[CostTerm | Callable[..., torch.Tensor]]):
        for term in terms:
            if not callable(term) or not hasattr(term, "needs_states"):
                raise ValueError(
                    f"terms: {term!r} is not a cost term (a callable with needs_states)"
                )
        self.task, self.terms = task, list(terms)
        self.needs_states = any(bool(term.needs_states) for term in self.terms)  # type: ignore[union-attr]
        terminal = getattr(task, "terminal", None)
        if terminal is not None:
            self.terminal = terminal

    def step_cost(self, obs: torch.Tensor) -> torch.Tensor:
        """The task's cost of ``obs (..., O)``: ``(...)``."""
        return self.task.step_cost(obs)

    def trajectory_cost(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """Task cost plus every term: ``(N, H)`` from ``obs (N, H, O)``, ``actions (N, H, A)``."""
        total = self.task.step_cost(obs)
        for term in self.terms:
            total = total + term(obs, actions, states).to(total.dtype)
        return total

    def is_success(self, obs: np.ndarray, info: Mapping[str, Any]) -> bool:
        """The task's success test."""
        return self.task.is_success(obs, info)
