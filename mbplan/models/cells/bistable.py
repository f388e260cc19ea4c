"""Bistable recurrent cells: BRC and nBRC (Vecoven, Ernst, Drion, PLoS ONE 2021).

Equations (``shared/reference/cells.md`` Sec. B.1)::

    a_t = 1 + tanh(U_a x_t + w_a * h_{t-1} + b_a)           in (0, 2)
    c_t = sigmoid(U_c x_t + w_c * h_{t-1} + b_c)            in (0, 1)
    h_t = c_t * h_{t-1} + (1 - c_t) * tanh(U_h x_t + a_t * h_{t-1} + b_h)

BRC has cellular feedback only (``w_a``, ``w_c`` are vectors, ``*`` elementwise); nBRC
("neuromodulated") uses full matrices ``W_a h``, ``W_c h`` in the gates, while the candidate's
recurrence stays elementwise. The output is the state ``h``.

Initialisation as in both official codes: ``U_*`` Xavier-uniform, BRC ``w_a = w_c = 1``, nBRC
``W_a``, ``W_c`` Xavier-uniform, all biases 0, so ``h_0 = 0`` unless ``f_init`` sets it.

``candidate_bias=True`` (default) keeps ``b_h`` as in the warmup repository and RecurrentLayers.jl;
``False`` drops it as in the original TensorFlow code and ``brc_pytorch``.
"""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from mbplan.models.cells.base import ProjectedCell
from mbplan.models.validation import require_positive_int


class _BistableWeights(NamedTuple):
    input_weight: torch.Tensor  # (3H, input_size): U_a, U_c, U_h stacked
    input_bias: torch.Tensor | None  # (3H,) or None when every bias is absent
    recurrent: torch.Tensor  # BRC: (2H,) [w_a, w_c]; nBRC: (H, 2H) [W_a; W_c]^T


class _BistableCell(ProjectedCell):
    """Shared mechanism of BRC and nBRC; subclasses choose the gates' recurrent weights.

    State and output ``h`` ``(batch, hidden_size)``; no L0 gates.

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``H``.
        candidate_bias: keep the candidate bias ``b_h`` (see the module docstring).
    """

    #: full gate matrices (nBRC) instead of per-neuron vectors (BRC)
    neuromodulated: ClassVar[bool]
    #: parameter names of the gates' recurrent weights, as in the equations
    recurrent_names: ClassVar[tuple[str, str]]

    def __init__(self, input_size: int, hidden_size: int, *, candidate_bias: bool = True) -> None:
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        super().__init__(input_size, hidden_size, hidden_size, 0)
        self.hidden_size = hidden_size
        self.candidate_bias = candidate_bias
        shape_u = (hidden_size, input_size)
        self.U_a = nn.Parameter(torch.empty(shape_u))
        self.U_c = nn.Parameter(torch.empty(shape_u))
        self.U_h = nn.Parameter(torch.empty(shape_u))
        shape_w = (hidden_size, hidden_size) if self.neuromodulated else (hidden_size,)
        for name in self.recurrent_names:
            self.register_parameter(name, nn.Parameter(torch.empty(shape_w)))
        self.b_a = nn.Parameter(torch.empty(hidden_size))
        self.b_c = nn.Parameter(torch.empty(hidden_size))
        self.b_h = nn.Parameter(torch.empty(hidden_size)) if candidate_bias else None
        self.reset_parameters()

    def _gate_recurrent_weights(self) -> list[torch.Tensor]:
        """The gates' recurrent weights ``[w_a, w_c]`` (BRC) or ``[W_a, W_c]`` (nBRC)."""
        return [getattr(self, name) for name in self.recurrent_names]

    def reset_parameters(self) -> None:
        """Xavier-uniform input weights, zero biases; recurrent weights per subclass."""
        for weight in (self.U_a, self.U_c, self.U_h):
            nn.init.xavier_uniform_(weight)
        for bias in (self.b_a, self.b_c, self.b_h):
            if bias is not None:
                nn.init.zeros_(bias)
        for weight in self._gate_recurrent_weights():
            if self.neuromodulated:
                nn.init.xavier_uniform_(weight)
            else:
                nn.init.ones_(weight)

    def _prepare(self) -> _BistableWeights:
        b_h = self.b_h if self.b_h is not None else torch.zeros_like(self.b_a)
        recurrent = torch.cat(self._gate_recurrent_weights(), dim=0)
        return _BistableWeights(
            input_weight=torch.cat([self.U_a, self.U_c, self.U_h], dim=0),
            input_bias=torch.cat([self.b_a, self.b_c, b_h]),
            recurrent=recurrent.t() if self.neuromodulated else recurrent,
        )

    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: _BistableWeights
    ) -> tuple[torch.Tensor | None, ...]:
        return (F.linear(x, weights.input_weight, weights.input_bias),)

    def _recur(
        self,
        projected: tuple[torch.Tensor | None, ...],
        state: torch.Tensor,
        weights: _BistableWeights,
    ) -> tuple[torch.Tensor, None]:
        (xp,) = projected
        assert xp is not None
        hidden = self.hidden_size
        gates_in, candidate_in = xp[:, : 2 * hidden], xp[:, 2 * hidden :]
        if self.neuromodulated:
            gates_pre = torch.addmm(gates_in, state, weights.recurrent)
        else:
            gates_pre = torch.addcmul(gates_in, state.repeat(1, 2), weights.recurrent)
        a = 1.0 + torch.tanh(gates_pre[:, :hidden])
        c = torch.sigmoid(gates_pre[:, hidden:])
        candidate = torch.tanh(torch.addcmul(candidate_in, a, state))
        return torch.lerp(candidate, state, c), None

    def _readout(
        self, x: torch.Tensor, state: torch.Tensor, weights: _BistableWeights
    ) -> torch.Tensor:
        return state

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return (
            f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
            f"candidate_bias={self.candidate_bias}"
        )


class BRCCell(_BistableCell):
    """Bistable recurrent cell: gate feedback through per-neuron weights ``w_a``, ``w_c``."""

    neuromodulated = False
    recurrent_names = ("w_a", "w_c")


class NBRCCell(_BistableCell):
    """Neuromodulated bistable cell (nBRC): gate feedback through full matrices ``W_a``, ``W_c``."""

    neuromodulated = True
    recurrent_names = ("W_a", "W_c")
