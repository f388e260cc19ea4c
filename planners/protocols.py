"""The small interfaces the planners and the MPC loop need from the rest of the world.

``planners`` imports neither ``sims`` nor ``mbplan``: any object with these methods can be planned
with (``docs/architecture.md``). The shapes are those of the world-model seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class RecurrentWorldModel(Protocol):
    """A recurrent model of ``o_{t+1}`` given the history, as ``mbplan.models.WorldModel`` is.

    Attributes:
        k: number of first real inputs that ``initial_state`` needs (``f_init``).
    """

    k: int

    def initial_state(self, obs_context: torch.Tensor, act_context: torch.Tensor) -> torch.Tensor:
        """State before step 0 from ``(B, k, obs_dim)`` and ``(B, k, action_dim)``: ``(B, S)``."""
        ...

    def step(
        self, obs: torch.Tensor, action: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """One filtering step: ``(B, O), (B, A), (B, S) -> (pred (B, O), state (B, S), gates)``."""
        ...

    def rollout(
        self, state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Open loop from the real ``obs (B, O)``: ``(B, H, A) -> (pred (B, H, O), state)``."""
        ...


@runtime_checkable
class StepEnv(Protocol):
    """The part of the gymnasium ``Env`` API the MPC loop uses."""

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode: ``(obs (obs_dim,), info)``."""
        ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action (action_dim,)``: ``(obs, reward, terminated, truncated, info)``."""
        ...

    def render(self) -> Any:
        """A frame ``(height, width, 3)`` uint8 when made with ``render_mode="rgb_array"``."""
        ...


@runtime_checkable
class StatefulSimulator(Protocol):
    """A simulator whose full state can be copied and restored (``sims.base.PymunkEnv``)."""

    def get_state(self) -> np.ndarray:
        """Everything needed to continue the episode: flat float64 ``(state_size,)``."""
        ...

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state returned by :meth:`get_state`."""
        ...

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Apply ``action (action_dim,)``: ``(obs, reward, terminated, truncated, info)``."""
        ...


@runtime_checkable
class TaskCost(Protocol):
    """A per-step task cost on (predicted) observations and a success test on real ones."""

    def step_cost(self, obs: torch.Tensor) -> torch.Tensor:
        """Cost of reaching ``obs (..., obs_dim)``: ``(...)``; lower is better."""
        ...

    def is_success(self, obs: np.ndarray, info: Mapping[str, Any]) -> bool:
        """Whether the real observation ``obs (obs_dim,)`` and ``info`` solve the task."""
        ...


@runtime_checkable
class TrajectoryCost(Protocol):
    """A task cost whose step costs may read the planned actions and the model's latent states.

    :func:`planners.objective.make_objective` calls :meth:`trajectory_cost` instead of
    ``step_cost`` when the task has it (:class:`planners.trajectory_costs.CostWithTerms` builds
    one from a :class:`TaskCost` and extra terms).

    Attributes:
        needs_states: whether :meth:`trajectory_cost` reads ``states``; the objective then asks
            the model's ``rollout`` for them (``return_states=True``).
    """

    needs_states: bool

    def trajectory_cost(
        self, obs: torch.Tensor, actions: torch.Tensor, states: torch.Tensor | None
    ) -> torch.Tensor:
        """Step costs ``(N, H)`` of predicted ``obs (N, H, O)`` reached by ``actions (N, H, A)``.

        ``states`` is ``(N, H, S)``, the model state after every step, or ``None`` when
        :attr:`needs_states` is false.
        """
        ...

    def is_success(self, obs: np.ndarray, info: Mapping[str, Any]) -> bool:
        """Whether the real observation ``obs (obs_dim,)`` and ``info`` solve the task."""
        ...
