"""Several trained world models planned with as one: the plan's cost is the mean over members.

A learned model that is wrong off its training distribution is exploited by the planner: iCEM
finds the action sequences along which the model predicts success (through a wall, a robot that
moves before it is controlled; ``docs/results/rrc.md``). Models trained from different seeds or
with different cores are wrong in different places, so a plan that only one of them believes in
costs more under their mean. This is the ensemble of PETS (Chua et al., 2018) without its
probabilistic members and particle sampling: every member is deterministic and rolls out the same
candidate actions from its own filtered state, and the objective (``planners.objective``) averages
the members' trajectory costs (cost of each trajectory, then mean: not the cost of the mean
trajectory). Measured on RRC (``docs/results/rrc.md``, "Ensembles"), the four cores' shipped
seed-0 models plan worse together (0.54 of 100 episodes) than GateL0RD alone (0.66): averaging
over cores is no remedy there.

The ensemble is a world model for the MPC loop: ``k``, ``initial_state``, ``step``, ``rollout``
(the members' mean prediction) and ``rollout_members`` (every member's), with the members' packed
states concatenated into one ``(batch, sum of state sizes)`` tensor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn


class WorldModelEnsemble(nn.Module):
    """K world models with the same observation and action sizes, filtered and rolled out together.

    Members may differ in core, size and ``k``: the ensemble's ``k`` is the largest; a member
    with a smaller ``k`` builds its initial state from the first ``k_i`` inputs of the warm-up
    context and is then filtered through all ``k`` warm-up inputs by ``step``, as the MPC loop
    does for the ensemble.

    Args:
        members: the world models (``mbplan.models.WorldModel`` or the same interface), in
            evaluation mode for planning.

    Raises:
        ValueError: for fewer than two members, or members whose ``obs_dim`` / ``action_dim``
            differ (named with their index).
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"members: an ensemble needs at least 2 models, got {len(members)}")
        first = members[0]
        for index, member in enumerate(members):
            for name in ("obs_dim", "action_dim"):
                if getattr(member, name) != getattr(first, name):
                    raise ValueError(
                        f"members: model {index} has {name} {getattr(member, name)}, model 0 has "
                        f"{name} {getattr(first, name)}; an ensemble plans one env"
                    )
        self.members = nn.ModuleList(members)
        self.obs_dim: int = int(first.obs_dim)
        self.action_dim: int = int(first.action_dim)
        self.k: int = max(int(member.k) for member in members)
        self.state_sizes: tuple[int, ...] = tuple(int(member.state_size) for member in members)

    @property
    def state_size(self) -> int:
        """Width of the concatenated state."""
        return sum(self.state_sizes)

    def _split(self, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if state.dim() != 2 or state.shape[1] != self.state_size:
            raise ValueError(
                f"state: expected (batch, {self.state_size}) (the members' states "
                f"{self.state_sizes} concatenated), got {tuple(state.shape)}"
            )
        return torch.split(state, self.state_sizes, dim=1)

    def initial_state(self, obs_context: torch.Tensor, act_context: torch.Tensor) -> torch.Tensor:
        """Every member's initial state from the first ``k_i`` of ``(batch, k, ·)``, concatenated.

        Returns:
            ``(batch, state_size)``.
        """
        return torch.cat(
            [
                member.initial_state(obs_context[:, : member.k], act_context[:, : member.k])
                for member in self.members
            ],
            dim=1,
        )

    def step(
        self, obs: torch.Tensor, action: torch.Tensor, state: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor, None]:
        """Filter every member: ``(batch, obs_dim), (batch, action_dim), (batch, state_size)``.

        Returns:
            the members' mean prediction ``(batch, obs_dim)``, the new concatenated state, and
            ``None`` for the gates (members' gates are not comparable).
        """
        predictions, states = [], []
        for member, part in zip(self.members, self._split(state), strict=True):
            prediction, new_state, _ = member.step(obs, action, part, **kwargs)
            predictions.append(prediction)
            states.append(new_state)
        return torch.stack(predictions).mean(dim=0), torch.cat(states, dim=1), None

    def rollout_members(
        self, state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Every member's open-loop rollout of the same ``actions (batch, horizon, action_dim)``.

        Returns:
            ``predictions (members, batch, horizon, obs_dim)`` and the concatenated final state
            ``(batch, state_size)``.
        """
        predictions, states = [], []
        for member, part in zip(self.members, self._split(state), strict=True):
            prediction, final = member.rollout(part, obs, actions, **kwargs)
            predictions.append(prediction)
            states.append(final)
        return torch.stack(predictions), torch.cat(states, dim=1)

    def rollout(
        self, state: torch.Tensor, obs: torch.Tensor, actions: torch.Tensor, **kwargs: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The members' mean open-loop prediction ``(batch, horizon, obs_dim)`` and final state.

        Planning does not use this mean (``planners.objective`` averages the members' costs
        through :meth:`rollout_members`); it is what a caller of the plain world-model interface
        sees, e.g. the predicted paths of an MPC GIF.
        """
        predictions, final = self.rollout_members(state, obs, actions, **kwargs)
        return predictions.mean(dim=0), final
