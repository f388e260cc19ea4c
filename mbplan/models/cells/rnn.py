"""The baseline cores over torch's own implementations: Elman RNN, GRU and LSTM.

Each cell holds a one-layer ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (``batch_first=True``; torch's
default initialisation, as in the GateL0RD paper code). The sequence path calls the fused native
kernel; the step path calls torch's cell function (``torch.rnn_tanh_cell``, ``torch.gru_cell``,
``torch.lstm_cell``) on the same parameters, so both paths give the same numbers.

State packing: Elman and GRU ``h`` ``(batch, H)``; LSTM ``[h, c]`` ``(batch, 2H)``. The output is
``h``. These cells have no gates in the L0 sense: ``gates`` is ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from mbplan.models.cells.base import CellSequence, CellStep, RecurrentCell, StepFn
from mbplan.models.validation import require_positive_int

#: torch cell function ``(x, hx, w_ih, w_hh, b_ih, b_hh) -> h``; LSTM: ``hx = (h, c) -> (h, c)``.
_CellFunction = Callable[..., "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]
#: torch's recurrent state argument: ``h``, or ``(h, c)`` for an LSTM
_TorchState = "torch.Tensor | tuple[torch.Tensor, ...]"


class TorchRecurrentCell(RecurrentCell):
    """One layer of a torch recurrent module behind the cell interface.

    Args:
        input_size: size of ``x_t``.
        hidden_size: ``H``.
    """

    module_class: ClassVar[type[nn.RNNBase]]
    #: torch's one-step function for this module's weights
    cell_function: ClassVar[_CellFunction]
    #: how many ``H``-sized tensors the state packs (2 for LSTM's ``[h, c]``)
    state_factor: ClassVar[int] = 1

    def __init__(self, input_size: int, hidden_size: int) -> None:
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        super().__init__(input_size, hidden_size, self.state_factor * hidden_size, 0)
        self.hidden_size = hidden_size
        self.rnn = self.module_class(input_size, hidden_size, batch_first=True)

    def _weights(self) -> tuple[torch.Tensor, ...]:
        rnn = self.rnn
        return rnn.weight_ih_l0, rnn.weight_hh_l0, rnn.bias_ih_l0, rnn.bias_hh_l0

    def _torch_state(self, parts: tuple[torch.Tensor, ...]) -> _TorchState:
        """Torch's state argument: ``h`` alone, or the LSTM's tuple ``(h, c)``."""
        return parts[0] if self.state_factor == 1 else parts

    def make_step_fn(self, *, with_gates: bool = True) -> StepFn:
        """Return the one-step function (torch's cell function on this layer's weights).

        Args:
            with_gates: ignored: these cells have no regularised gates.
        """
        weights = self._weights()
        cell_function = self.cell_function

        def step_fn(x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None) -> CellStep:
            result = cell_function(
                x, self._torch_state(state.split(self.hidden_size, -1)), *weights
            )
            parts = (result,) if isinstance(result, torch.Tensor) else tuple(result)
            packed = parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)
            return CellStep(parts[0], packed, None)

        return step_fn

    def forward_sequence(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """All steps in torch's fused sequence kernel (shapes as in the base class).

        The module returns ``h_t`` for every step but an LSTM's ``c_t`` only for the last one, so
        an LSTM asked for every state takes the step loop instead.
        """
        if return_states and self.state_factor > 1:
            return super().forward_sequence(x, state, noise, return_states)
        parts = tuple(p.unsqueeze(0).contiguous() for p in state.split(self.hidden_size, -1))
        outputs, final = self.rnn(x, self._torch_state(parts))
        final_parts = (final,) if isinstance(final, torch.Tensor) else tuple(final)
        packed = torch.cat([part[0] for part in final_parts], dim=-1)
        return CellSequence(outputs, packed, None, outputs if return_states else None)

    def extra_repr(self) -> str:
        """Sizes and options, for ``repr``."""
        return f"input_size={self.input_size}, hidden_size={self.hidden_size}"


class ElmanCell(TorchRecurrentCell):
    """Elman RNN layer, ``h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`` (``nn.RNN``)."""

    module_class = nn.RNN
    cell_function = torch.rnn_tanh_cell


class GRUCell(TorchRecurrentCell):
    """GRU layer (``nn.GRU``; equations as in torch's documentation)."""

    module_class = nn.GRU
    cell_function = torch.gru_cell


class LSTMCell(TorchRecurrentCell):
    """LSTM layer (``nn.LSTM``); the packed state is ``[h, c]`` ``(batch, 2H)``."""

    module_class = nn.LSTM
    cell_function = torch.lstm_cell
    state_factor = 2
