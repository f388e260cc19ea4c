"""The benchmarks' networks: a stack of mbplan cells with a linear readout.

As the official code: ``num_layers`` stacked recurrent layers of ``hidden_size`` units, zero
initial state, a linear layer on the last layer's output. The cells are mbplan's own (their
initialisation is mbplan's: torch's default for GRU / LSTM, where the official code uses
xavier / orthogonal GRU weights; the official BRC / nBRC initialisation for BRC / nBRC); GateL0RD
(not in the paper) uses its default output size ``hidden_size`` and adds its L0 term to the loss.
``double=True`` makes every layer a :class:`~mbplan.models.cells.DoubleCell` of two
``hidden_size // 2`` cells.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mbplan.models.cells import (
    BRCCell,
    DoubleCell,
    GateL0RDCell,
    GRUCell,
    LSTMCell,
    NBRCCell,
    RecurrentCell,
    RecurrentStack,
)

#: the cells the benchmarks compare, ``(input_size, hidden_size) -> cell``.
CELLS: dict[str, Callable[[int, int], RecurrentCell]] = {
    "gru": GRUCell,
    "lstm": LSTMCell,
    "brc": BRCCell,
    "nbrc": NBRCCell,
    "gatel0rd": GateL0RDCell,
}


class SequenceNetwork(nn.Module):
    """A recurrent core and a linear readout.

    Args:
        core: the recurrent stack.
        output_size: size of the readout.
        reg_lambda: weight of ``mean(Theta)`` in :meth:`regularization` (cores with gates).
    """

    def __init__(self, core: RecurrentStack, output_size: int, reg_lambda: float = 0.0) -> None:
        super().__init__()
        self.core = core
        self.readout = nn.Linear(core.output_size, output_size)
        self.reg_lambda = float(reg_lambda)

    def forward(
        self, inputs: torch.Tensor, last: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Outputs of the last ``last`` steps.

        Args:
            inputs: ``(batch, time, input_size)``.
            last: how many final steps to read out.
            generator: gate noise source in training mode (cells with noise).

        Returns:
            ``(batch, last, output_size)`` and the gates ``(batch, time, G) | None``.
        """
        batch, time = inputs.shape[:2]
        noise = None
        if self.core.noise_size > 0:
            if generator is None:
                raise ValueError("generator: expected a torch.Generator for the gate noise")
            shape = (batch, time, self.core.noise_size)
            noise = torch.randn(shape, generator=generator, device=generator.device)
            noise = noise.to(inputs)
        state = inputs.new_zeros((batch, self.core.state_size))
        sequence = self.core.forward_sequence(inputs, state, noise)
        return self.readout(sequence.outputs[:, time - last :]), sequence.gates

    def regularization(self, gates: torch.Tensor | None) -> torch.Tensor:
        """``reg_lambda * mean(Theta)``, zero for cores without gates."""
        if gates is None:
            return self.readout.weight.new_zeros(())
        return self.reg_lambda * gates.mean()


def make_network(
    cell: str,
    input_size: int,
    output_size: int,
    hidden_size: int,
    num_layers: int,
    *,
    double: bool = False,
    reg_lambda: float = 1e-3,
) -> SequenceNetwork:
    """Build a :class:`SequenceNetwork` of ``num_layers`` ``cell`` layers.

    Weight initialisation draws from torch's global generator (seed it in the script).

    Raises:
        ValueError: for an unknown cell name.
    """
    if cell not in CELLS:
        raise ValueError(f"cell: expected one of {sorted(CELLS)}, got {cell!r}")
    factory = CELLS[cell]
    layers: list[RecurrentCell] = []
    for _ in range(num_layers):
        size = input_size if not layers else layers[-1].output_size
        layers.append(
            DoubleCell.of(factory, size, hidden_size) if double else factory(size, hidden_size)
        )
    return SequenceNetwork(RecurrentStack(layers), output_size, reg_lambda)
