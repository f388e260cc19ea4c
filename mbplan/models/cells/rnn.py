"""The baseline cores over torch's own implementations: Elman RNN, GRU and LSTM.

Each cell holds a one-layer ``nn.RNN`` / ``nn.GRU`` / ``nn.LSTM`` (``batch_first=True``; torch's
default initialisation, as in the GateL0RD paper code). The sequence path calls the fused native
kernel; the step path calls torch's cell function (``torch.rnn_tanh_cell``, ``torch.gru_cell``,
``torch.lstm_cell``) on the same parameters, so both paths give the same numbers.

State packing: Elman and GRU ``h`` ``(batch, H)``; LSTM ``[h, c]`` ``(batch, 2H)``. The output is
``h``. These cells have no gates in the L0 sense: ``gates`` is ``None``.

Explicit formulation (``fused_kernels = False``): the same equations written out as plain tensor
ops on the same parameters, for code that maps a cell over stacked parameters with
``torch.func.vmap`` (a run group, :mod:`mbplan.models.stacked`): torch's fused sequence kernels
(``aten::gru``, ``aten::lstm``, ``aten::rnn_tanh``) and ``aten::lstm_cell`` have no vmap batching
rule, and ``gru_cell`` / ``rnn_tanh_cell`` only a slow per-member fallback. With
``xp_t = W_ih x_t + b_ih`` (all steps in one matmul) and ``hp = W_hh h_{t-1} + b_hh`` per step, in
torch's gate order (GRU ``r, z, n``; LSTM ``i, f, g, o``)::

    Elman  h_t = tanh(xp_t + hp)
    GRU    r = sigmoid(xp_r + hp_r), z = sigmoid(xp_z + hp_z), n = tanh(xp_n + r * hp_n),
           h_t = n + z * (h_{t-1} - n)                              (= (1 - z) n + z h_{t-1})
    LSTM   i, f, o = sigmoid(.), g = tanh(.) of xp + hp,  c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)

which is torch's documented recurrence; the fused kernels compute the same sums in another order,
so the two agree to float32 rounding, not bit for bit (``tests/models/test_models_stacked.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch
from torch import nn

from mbplan.models.cells.base import CellSequence, CellStep, RecurrentCell, StepFn, stack_steps
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
        #: False: the explicit formulation (module docstring) instead of torch's kernels
        self.fused_kernels = True

    @staticmethod
    def _explicit_recur(
        xp: torch.Tensor, hp: torch.Tensor, parts: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, ...]:
        """One step of the explicit formulation: new state parts from ``xp`` and ``hp``."""
        raise NotImplementedError

    def _explicit_step(
        self, xp: torch.Tensor, state: torch.Tensor, weights: tuple[torch.Tensor, ...]
    ) -> CellStep:
        """One step from the input projection ``xp (batch, G H)`` and the packed state."""
        parts = tuple(state.split(self.hidden_size, -1))
        hp = torch.addmm(weights[3], parts[0], weights[1].t())
        new = self._explicit_recur(xp, hp, parts)
        packed = new[0] if len(new) == 1 else torch.cat(new, dim=-1)
        return CellStep(new[0], packed, None)

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
        if not self.fused_kernels:
            return lambda x, state, noise: self._explicit_step(
                torch.addmm(weights[2], x, weights[0].t()), state, weights
            )

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
        if not self.fused_kernels:  # input projection of all steps hoisted out of the loop
            weights = self._weights()
            steps = []
            for xp in (x @ weights[0].t() + weights[2]).unbind(1):
                steps.append(self._explicit_step(xp, state, weights))
                state = steps[-1].state
            return stack_steps(steps, return_states)
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

    @staticmethod
    def _explicit_recur(
        xp: torch.Tensor, hp: torch.Tensor, parts: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, ...]:
        """``h = tanh(xp + hp)``."""
        return (torch.tanh(xp + hp),)


class GRUCell(TorchRecurrentCell):
    """GRU layer (``nn.GRU``; equations as in torch's documentation)."""

    module_class = nn.GRU
    cell_function = torch.gru_cell

    @staticmethod
    def _explicit_recur(
        xp: torch.Tensor, hp: torch.Tensor, parts: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, ...]:
        """Torch's GRU step (gate order ``r, z, n``)."""
        x_r, x_z, x_n = xp.chunk(3, dim=-1)
        h_r, h_z, h_n = hp.chunk(3, dim=-1)
        reset = torch.sigmoid(x_r + h_r)
        update = torch.sigmoid(x_z + h_z)
        new = torch.tanh(torch.addcmul(x_n, reset, h_n))
        return (torch.addcmul(new, update, parts[0] - new),)


class LSTMCell(TorchRecurrentCell):
    """LSTM layer (``nn.LSTM``); the packed state is ``[h, c]`` ``(batch, 2H)``."""

    module_class = nn.LSTM
    cell_function = torch.lstm_cell
    state_factor = 2

    @staticmethod
    def _explicit_recur(
        xp: torch.Tensor, hp: torch.Tensor, parts: tuple[torch.Tensor, ...]
    ) -> tuple[torch.Tensor, ...]:
        """Torch's LSTM step (gate order ``i, f, g, o``); returns ``(h, c)``."""
        i, f, g, o = (xp + hp).chunk(4, dim=-1)
        cell = torch.sigmoid(f) * parts[1] + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(cell), cell
