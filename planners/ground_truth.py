"""A world model that is the simulator itself, to validate planners without any learned model.

:class:`GroundTruthModel` implements the world-model seam (``k``, ``initial_state``, ``step``,
``rollout``) over a simulator with ``get_state`` / ``set_state`` (``sims.base.PymunkEnv``). Its
"state" is the flat float64 simulator state, one row per problem. Filtering is exact: the state
after a real step is read from the real env, not predicted. Rollouts restore each row into a scratch
simulator and step it, so they are Python-bound (about ``rows x horizon`` env steps per call); they
run on the unwrapped env (no time limit or checker wrappers) to keep the per-step overhead small.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from planners.protocols import StatefulSimulator


def _unwrapped(env: Any) -> StatefulSimulator:
    inner = getattr(env, "unwrapped", env)
    for method in ("get_state", "set_state", "step"):
        if not callable(getattr(inner, method, None)):
            raise ValueError(
                f"the ground-truth model needs envs with get_state/set_state/step, "
                f"{type(inner).__name__} has no {method}()"
            )
    return inner


class GroundTruthModel:
    """The simulator as a world model.

    Args:
        envs: the real envs of the MPC batch, in batch order; :meth:`initial_state` and :meth:`step`
            read their simulator states.
        simulator: a scratch env of the same kind (already reset once) used for rollouts; it is
            restored from the state rows and never shares state with ``envs``.

    Attributes:
        k: 0, the simulator needs no context (filtering reads the real state).
    """

    k = 0

    def __init__(self, envs: Sequence[Any], simulator: Any) -> None:
        if len(envs) == 0:
            raise ValueError("envs must hold at least one env, got an empty sequence")
        self._real = [_unwrapped(env) for env in envs]
        self._sim = _unwrapped(simulator)
        if any(self._sim is real for real in self._real):
            raise ValueError("simulator must be a separate env instance, not one of envs")

    def _real_states(self, like: torch.Tensor) -> torch.Tensor:
        states = np.stack([np.asarray(env.get_state(), dtype=np.float64) for env in self._real])
        return torch.as_tensor(states, device=like.device)

    def initial_state(self, obs_context: torch.Tensor, act_context: torch.Tensor) -> torch.Tensor:
        """Read the real simulator states.

        Args:
            obs_context: ``(B, k, obs_dim)`` with ``B == len(envs)`` (values unused).
            act_context: ``(B, k, action_dim)`` (unused).

        Returns:
            ``(B, state_size)`` float64 simulator states.
        """
        if obs_context.shape[0] != len(self._real):
            raise ValueError(
                f"obs_context must have batch size len(envs) = {len(self._real)}, "
                f"got shape {tuple(obs_context.shape)}"
            )
        return self._real_states(obs_context)

    def step(
        self, obs: torch.Tensor, action: torch.Tensor, state: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, None]:
        """Predict the next observation by simulation; return the real envs' states.

        Call after the real envs executed ``action``.

        Args:
            obs: ``(B, obs_dim)`` observations before the action.
            action: ``(B, action_dim)`` executed actions.
            state: ``(B, state_size)`` simulator states before the action.

        Returns:
            ``(pred_next_obs (B, obs_dim), state (B, state_size), None)``: the simulated next
            observation and the real states after the step.
        """
        pred, _ = self.rollout(state, obs, action.unsqueeze(1))
        return pred[:, 0], self._real_states(state), None

    @torch.no_grad()
    def rollout(
        self, state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Simulate each row from its state.

        Args:
            state: ``(N, state_size)`` simulator states.
            obs: ``(N, obs_dim)`` current observations (only the shape and dtype are used).
            actions: ``(N, H, action_dim)``.

        Returns:
            ``(pred_obs (N, H, obs_dim), state (N, state_size))`` on ``obs``'s device and dtype.
        """
        if state.ndim != 2 or actions.ndim != 3 or actions.shape[0] != state.shape[0]:
            raise ValueError(
                "rollout expects state (N, state_size) and actions (N, H, action_dim), got "
                f"{tuple(state.shape)} and {tuple(actions.shape)}"
            )
        states = state.detach().to("cpu", torch.float64).numpy()
        plan = actions.detach().to("cpu", torch.float32).numpy()
        rows, horizon = plan.shape[:2]
        pred = np.empty((rows, horizon, obs.shape[-1]), dtype=np.float32)
        final = np.empty_like(states)
        sim = self._sim
        for row in range(rows):
            sim.set_state(states[row])
            for t in range(horizon):
                pred[row, t] = sim.step(plan[row, t])[0]
            final[row] = sim.get_state()
        return (
            torch.from_numpy(pred).to(device=obs.device, dtype=obs.dtype),
            torch.from_numpy(final).to(device=state.device),
        )
