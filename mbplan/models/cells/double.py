"""The double layer: two cells side by side on the same input (Lambrechts et al. 2023).

The warmup paper's remedy for the precision that warmup can cost: each layer is made of two
half-size cells fed the same input, their outputs concatenated, and the warmup maximises VAA* on
the first cell only ("partial warmup"), so that one half becomes multistable (long memory) while
the other keeps its initial, precise dynamics [source: glambrechts/warmup@8d9a33b
models_pytorch/cells.py ``Double``; models.py ``vaa_star(double=True)``].

Behind the cell interface: output ``[y_first, y_second]``, state ``[state_first,
state_second]`` (each cell packs its own state, so an LSTM half keeps its ``[h, c]`` together;
the official code orders an LSTM double as ``[h_1, h_2], [c_1, c_2]`` instead, a permutation that
changes no distance), gates of the halves that have them, noise split between the halves.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from mbplan.models.cells.base import CellSequence, CellStep, RecurrentCell, RecurrentStack, StepFn
from mbplan.models.validation import require_positive_int


class DoubleCell(RecurrentCell):
    """Two cells on the same input, outputs and states side by side.

    Args:
        first: the half that the partial warmup warms up.
        second: the other half; its ``input_size`` must equal ``first``'s.
    """

    def __init__(self, first: RecurrentCell, second: RecurrentCell) -> None:
        if first.input_size != second.input_size:
            raise ValueError(
                f"second: expected input size {first.input_size} (the first cell's), "
                f"got {second.input_size}"
            )
        super().__init__(
            input_size=first.input_size,
            output_size=first.output_size + second.output_size,
            state_size=first.state_size + second.state_size,
            gate_size=first.gate_size + second.gate_size,
        )
        self.halves = nn.ModuleList([first, second])

    @classmethod
    def of(
        cls, factory: Callable[[int, int], RecurrentCell], input_size: int, hidden_size: int
    ) -> DoubleCell:
        """Two cells ``factory(input_size, hidden_size // 2)`` (``hidden_size`` must be even)."""
        require_positive_int("hidden_size", hidden_size)
        if hidden_size % 2:
            raise ValueError(
                f"hidden_size: expected an even size for a double layer, got {hidden_size}"
            )
        return cls(factory(input_size, hidden_size // 2), factory(input_size, hidden_size // 2))

    @property
    def first(self) -> RecurrentCell:
        """The half that the partial warmup warms up."""
        return self.halves[0]

    @property
    def first_state(self) -> slice:
        """The first half's part of this layer's packed state."""
        return slice(0, self.halves[0].state_size)

    @property
    def noise_size(self) -> int:
        """Standard-normal draws per step over both halves in the current mode."""
        return sum(half.noise_size for half in self.halves)

    def _split(self, state: torch.Tensor, noise: torch.Tensor | None) -> list[tuple]:
        states = torch.split(state, [half.state_size for half in self.halves], dim=-1)
        if noise is None:
            noises = [None, None]
        else:
            noises = torch.split(noise, [half.noise_size for half in self.halves], dim=-1)
        return list(zip(states, noises, strict=True))

    def make_step_fn(self, *, with_gates: bool = True) -> StepFn:
        """Prepare both halves and return the one-step function of the double layer."""
        step_fns = [half.make_step_fn(with_gates=with_gates) for half in self.halves]

        def step_fn(x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None) -> CellStep:
            steps = [
                fn(x, part, part_noise)
                for fn, (part, part_noise) in zip(step_fns, self._split(state, noise), strict=True)
            ]
            return CellStep(
                torch.cat([step.output for step in steps], dim=-1),
                torch.cat([step.state for step in steps], dim=-1),
                RecurrentStack._concat_present([step.gates for step in steps]),
            )

        return step_fn

    def forward_sequence(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """Both halves on their fastest sequence paths (shapes as in the base class)."""
        halves = [
            half.forward_sequence(x, part, part_noise, return_states)
            for half, (part, part_noise) in zip(self.halves, self._split(state, noise), strict=True)
        ]
        return CellSequence(
            outputs=torch.cat([half.outputs for half in halves], dim=-1),
            state=torch.cat([half.state for half in halves], dim=-1),
            gates=RecurrentStack._concat_present([half.gates for half in halves]),
            states=torch.cat([half.states for half in halves], dim=-1) if return_states else None,
        )
