"""The noise-driven ReLU RNN of the HMM-emulation paper (Torre et al., NeurIPS 2025), as a cell.

Equations (``shared/reference/cells.md`` C.3, the authors' ``nn.RNN(nonlinearity='relu',
bias=False)`` and ``nn.Linear(hidden, 3, bias=False)``)::

    h_t = ReLU(W_ih x_t + W_hh h_{t-1})          no bias
    z_t = W_o h_t                                 linear read-out, no bias (when output_size is set)

As an HMM emulator the input ``x_t ~ N(0, I)`` is pure noise and the read-out gives the logits of
the emitted symbol (drawn by a hard Gumbel-softmax in :class:`~mbplan.hmm.emulator.HMMEmulator`);
the cell itself is deterministic given ``x``, so :func:`~mbplan.analysis.core_map` gives its
autonomous map ``h -> ReLU(W_hh h)`` with ``x = 0``. As a world-model core (registry name
``noise_rnn``) it has no read-out: the output is ``h`` and ``f_post`` reads it.

Initialisation: every weight ``U(-1/sqrt(H), 1/sqrt(H))`` with ``H = hidden_size`` (the paper;
torch's default for ``nn.RNN``, and for the bias-free ``nn.Linear(H, K)`` read-out, whose fan-in
is ``H``), drawn from an explicit generator when one is given.

State ``h`` ``(batch, hidden_size)``; output ``(batch, output_size or hidden_size)``; no gates.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from mbplan.models.cells.base import ProjectedCell
from mbplan.models.validation import require_positive_int


class _NoiseReLUWeights(NamedTuple):
    ih_t: torch.Tensor  # (input_size, H)
    hh_t: torch.Tensor  # (H, H)
    out_t: torch.Tensor | None  # (H, output_size) or None (output = h)


class NoiseReLUCell(ProjectedCell):
    """Bias-free ReLU recurrence with an optional bias-free linear read-out.

    Args:
        input_size: size of ``x_t`` (paper: 1, 10, 100 or 200; default config 100).
        hidden_size: ``H`` (paper: 50, 150 or 200).
        output_size: logits of the read-out (paper: 3 symbols); ``None``: no read-out, the
            output is ``h`` (world-model core).
        generator: source of the initial weights (``None``: torch's global generator).
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int | None = None,
        *,
        generator: torch.Generator | None = None,
    ) -> None:
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        if output_size is not None:
            require_positive_int("output_size", output_size)
        super().__init__(input_size, output_size or hidden_size, hidden_size, 0)
        self.hidden_size = hidden_size
        self.has_readout = output_size is not None
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.weight_out = (
            nn.Parameter(torch.empty(output_size, hidden_size)) if output_size else None
        )
        self.reset_parameters(generator)

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Draw every weight from ``U(-1/sqrt(H), 1/sqrt(H))``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound, generator=generator)

    def _prepare(self) -> _NoiseReLUWeights:
        out_t = None if self.weight_out is None else self.weight_out.T
        return _NoiseReLUWeights(self.weight_ih.T, self.weight_hh.T, out_t)

    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: _NoiseReLUWeights
    ) -> tuple[torch.Tensor | None, ...]:
        return (x @ weights.ih_t,)

    def _recur(
        self,
        projected: tuple[torch.Tensor | None, ...],
        state: torch.Tensor,
        weights: _NoiseReLUWeights,
    ) -> tuple[torch.Tensor, None]:
        (drive,) = projected
        assert drive is not None
        return torch.relu(torch.addmm(drive, state, weights.hh_t)), None

    def _readout(
        self, x: torch.Tensor, state: torch.Tensor, weights: _NoiseReLUWeights
    ) -> torch.Tensor:
        return state if weights.out_t is None else state @ weights.out_t

    def extra_repr(self) -> str:
        """Sizes, for ``repr``."""
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"output_size={self.output_size if self.has_readout else None}"
        )
