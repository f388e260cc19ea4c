"""What the modular cores (RigLSTM-style, RIMs) share: the layer of blocks, group maps, top-k.

Both cores keep ``N`` blocks (cells) of ``H`` units side by side along a group axis,
``(..., N, H)``, each with its own weights, choose some of them per step with a hard top-k, pack
the state as ``[h_1 .. h_N, c_1 .. c_N]`` ``(batch, 2 N H)`` and output all blocks' ``h``
``(batch, N H)``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch

from mbplan.models.cells.base import ProjectedCell


def topk_mask(scores: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the ``k`` largest entries along the last dimension.

    Args:
        scores: ``(..., n)``.
        k: how many to keep, ``0 <= k <= n``.

    Returns:
        ``(..., n)`` bool, exactly ``k`` entries true per row (ties broken by ``torch.topk``).
    """
    if k >= scores.shape[-1]:
        return torch.ones_like(scores, dtype=torch.bool)
    if k <= 0:
        return torch.zeros_like(scores, dtype=torch.bool)
    indices = scores.topk(k, dim=-1).indices  # indices carry no gradient
    # out of place: vmap (run groups) has a batching rule for scatter, not for scatter_
    return torch.zeros_like(scores, dtype=torch.bool).scatter(-1, indices, True)


def group_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-group linear map (RIMs' ``GroupLinearLayer``, no bias).

    Args:
        x: ``(..., G, in)``, group ``g`` read by ``weight[g]``.
        weight: ``(G, in, out)``.

    Returns:
        ``(..., G, out)``.
    """
    if x.dim() == 3:  # the per-step case: batched matmul over the group axis, views around it
        return torch.bmm(x.transpose(0, 1), weight).transpose(0, 1)
    lead = x.shape[:-2]
    groups, fan_in = x.shape[-2:]
    flat = x.reshape(-1, groups, fan_in).transpose(0, 1)  # (G, M, in)
    out = torch.bmm(flat, weight).transpose(0, 1)  # (M, G, out)
    return out.reshape(*lead, groups, weight.shape[-1])


class ModularCell(ProjectedCell):
    """A layer of ``num_blocks`` LSTM-like blocks whose step also records what it chose.

    Subclasses implement ``_prepare`` and ``_project`` (see :class:`ProjectedCell`) and
    ``_update(projected, state, weights) -> (new state, record)``; the recurrence is ``_update``'s
    state and the readout all blocks' ``h``.

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``H``, the size of each block.
        num_blocks: ``N``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_blocks: int) -> None:
        super().__init__(input_size, num_blocks * hidden_size, 2 * num_blocks * hidden_size, 0)
        self.hidden_size = hidden_size

    @abstractmethod
    def _update(
        self, projected: tuple[torch.Tensor | None, ...], state: torch.Tensor, weights: Any
    ) -> tuple[torch.Tensor, Any]:
        """One step: the new packed state ``(B, 2 N H)`` and the record of what it chose."""

    def _recur(
        self, projected: tuple[torch.Tensor | None, ...], state: torch.Tensor, weights: Any
    ) -> tuple[torch.Tensor, None]:
        return self._update(projected, state, weights)[0], None

    def _readout(self, x: torch.Tensor, state: torch.Tensor, weights: Any) -> torch.Tensor:
        return state[..., : self.output_size]

    def _unpack(self, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h, c`` ``(..., N, H)`` each from the packed state ``(..., 2 N H)``."""
        h, c = state.unflatten(-1, (2, -1, self.hidden_size)).unbind(-3)
        return h, c

    @staticmethod
    def _pack(h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """The packed state ``(..., 2 N H)`` from ``h, c`` ``(..., N, H)``."""
        return torch.cat([h.flatten(-2), c.flatten(-2)], dim=-1)

    def _step_record(
        self, x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[tuple[torch.Tensor | None, ...], Any]:
        """The projected input and the record of one step from ``state`` on ``x (B, in)``."""
        weights = self._prepare()
        projected = self._project(x, noise, weights)
        return projected, self._update(projected, state, weights)[1]
