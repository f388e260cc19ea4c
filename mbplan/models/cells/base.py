"""The shared recurrent-cell mechanism: the cell interface, the one unroll loop and the layer stack.

Every cell maps ``(x (B, in), state (B, S), noise (B, N) | None)`` to
``CellStep(output (B, out), state (B, S), gates (B, G) | None)``. ``state`` is always one packed
tensor (an LSTM layer packs ``[h, c]``); ``gates`` are the regularised gate activations (Theta)
for cells that have them; ``noise`` holds standard-normal draws for stochastic cells in training
mode (``noise_size`` of them per step), so that every random number comes from the caller's
explicit generator.

Two paths exist for every cell and give the same numbers:

* the step path, ``make_step_fn()``: a function for one time step, used for autoregression;
  weights derived from parameters (concatenations, transposes) are prepared once per call of
  ``make_step_fn`` and reused for every step;
* the sequence path, ``forward_sequence``: all inputs known (teacher forcing). Cells derived from
  :class:`ProjectedCell` hoist everything that does not depend on the previous state out of the
  time loop (input projections for all steps in one matmul, the output network on all states at
  once); cells over torch's recurrent modules call the fused native sequence kernel.

:class:`RecurrentStack` stacks cells (the next layer reads the previous layer's output) behind the
same interface and packs their states side by side: ``state = [layer 0's state, layer 1's, ...]``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import torch
from torch import nn


class CellStep(NamedTuple):
    """The result of one time step.

    Attributes:
        output: ``(batch, output_size)``.
        state: ``(batch, state_size)``, the packed state after the step.
        gates: ``(batch, gate_size)`` regularised gate activations, or ``None``.
    """

    output: torch.Tensor
    state: torch.Tensor
    gates: torch.Tensor | None


class CellSequence(NamedTuple):
    """The result of a whole sequence.

    Attributes:
        outputs: ``(batch, time, output_size)``.
        state: ``(batch, state_size)``, the packed state after the last step.
        gates: ``(batch, time, gate_size)``, or ``None`` for cells without gates.
        states: ``(batch, time, state_size)`` packed state after every step, when requested.
    """

    outputs: torch.Tensor
    state: torch.Tensor
    gates: torch.Tensor | None
    states: torch.Tensor | None


#: ``step_fn(x (B, in), state (B, S), noise (B, N) | None) -> CellStep``.
StepFn = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], CellStep]


def stack_steps(steps: Sequence[CellStep], return_states: bool) -> CellSequence:
    """Stack the per-step results of a loop over time into one :class:`CellSequence`.

    Args:
        steps: the results of steps ``0 .. T-1`` (at least one).
        return_states: also stack the state after every step.

    Returns:
        Outputs ``(batch, time, out)``, the last state, gates ``(batch, time, G) | None`` and
        states ``(batch, time, S) | None``.
    """
    gates = [step.gates for step in steps if step.gates is not None]
    return CellSequence(
        outputs=torch.stack([step.output for step in steps], dim=1),
        state=steps[-1].state,
        gates=torch.stack(gates, dim=1) if gates else None,
        states=torch.stack([step.state for step in steps], dim=1) if return_states else None,
    )


def unroll(
    step_fn: StepFn,
    x: torch.Tensor,
    state: torch.Tensor,
    noise: torch.Tensor | None,
    return_states: bool,
) -> CellSequence:
    """Run ``step_fn`` over the time axis: the one generic unroll loop.

    Args:
        step_fn: one-step function of a cell or stack.
        x: ``(batch, time, input_size)``.
        state: ``(batch, state_size)`` before the first step.
        noise: ``(batch, time, noise_size)`` or ``None``.
        return_states: also stack the state after every step.

    Returns:
        The stacked outputs, final state, gates and (optionally) states.
    """
    steps = []
    noise_steps = [None] * x.shape[1] if noise is None else noise.unbind(1)
    for x_t, noise_t in zip(x.unbind(1), noise_steps, strict=True):
        steps.append(step_fn(x_t, state, noise_t))
        state = steps[-1].state
    return stack_steps(steps, return_states)


class RecurrentCell(nn.Module, ABC):
    """Interface of one recurrent layer.

    Attributes:
        input_size: size of ``x``.
        output_size: size of the output ``y``.
        state_size: size of the packed state.
        gate_size: size of the regularised gates per step (0 for cells without gates).
    """

    def __init__(self, input_size: int, output_size: int, state_size: int, gate_size: int) -> None:
        super().__init__()
        self.input_size = input_size
        self.output_size = output_size
        self.state_size = state_size
        self.gate_size = gate_size

    @property
    def noise_size(self) -> int:
        """Standard-normal draws the cell needs per step in its current mode (0: deterministic)."""
        return 0

    @abstractmethod
    def make_step_fn(self, *, with_gates: bool = True) -> StepFn:
        """Prepare the derived weights once and return the one-step function.

        Args:
            with_gates: compute the regularised gates Theta; ``False`` returns ``gates=None``
                and saves their ops where nobody reads them (planning rollouts).
        """

    def step(
        self, x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None = None
    ) -> CellStep:
        """One time step.

        Args:
            x: ``(batch, input_size)``.
            state: ``(batch, state_size)``.
            noise: ``(batch, noise_size)`` standard-normal draws, when ``noise_size > 0``
                (``None``: no noise).

        Returns:
            Output ``(batch, output_size)``, new state and gates ``(batch, gate_size) | None``.
        """
        return self.make_step_fn()(x, state, noise)

    def forward_sequence(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """All time steps of a sequence whose inputs are known in advance.

        Args:
            x: ``(batch, time, input_size)``.
            state: ``(batch, state_size)`` before the first step.
            noise: ``(batch, time, noise_size)`` standard-normal draws, when ``noise_size > 0``.
            return_states: also return the packed state after every step.

        Returns:
            A :class:`CellSequence`.
        """
        return unroll(self.make_step_fn(), x, state, noise, return_states)

    def forward(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """Alias of :meth:`forward_sequence`."""
        return self.forward_sequence(x, state, noise, return_states)


class ProjectedCell(RecurrentCell):
    """A cell written as input projection, recurrence and readout.

    Subclasses split one step into three parts so that the sequence path can hoist the parts that
    do not depend on the previous state out of the time loop:

    * ``_project(x, noise, weights)``: everything computed from the input (and the gate noise)
      alone; works on any leading dimensions and returns a tuple of tensors (or ``None``);
    * ``_recur(projected_t, state, weights) -> (state, gate_activation | None)``: the recurrence;
    * ``_readout(x, state, weights)``: the output from input and new state, any leading dims;
    * ``_regularized_gates(gate_activation)``: Theta from the gate activation (Lambda).

    ``_prepare()`` builds the derived weights once per call; both paths share all four parts.
    """

    @abstractmethod
    def _prepare(self) -> Any:
        """Derived weights shared by all steps of one call."""

    @abstractmethod
    def _project(
        self, x: torch.Tensor, noise: torch.Tensor | None, weights: Any
    ) -> tuple[torch.Tensor | None, ...]:
        """Input-only part of the step, for ``x`` of shape ``(..., input_size)``."""

    @abstractmethod
    def _recur(
        self, projected: tuple[torch.Tensor | None, ...], state: torch.Tensor, weights: Any
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """State update from one step's projected input; returns ``(state, gate_activation)``."""

    @abstractmethod
    def _readout(self, x: torch.Tensor, state: torch.Tensor, weights: Any) -> torch.Tensor:
        """Output from input ``(..., input_size)`` and new state ``(..., state_size)``."""

    def _regularized_gates(self, gate_activation: torch.Tensor | None) -> torch.Tensor | None:
        """Theta from the gate activation; ``None`` for cells without gates."""
        return None

    def make_step_fn(self, *, with_gates: bool = True) -> StepFn:
        """Prepare the derived weights once and return the one-step function (see base class)."""
        weights = self._prepare()

        def step_fn(x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None) -> CellStep:
            state, activation = self._recur(self._project(x, noise, weights), state, weights)
            gates = self._regularized_gates(activation) if with_gates else None
            return CellStep(self._readout(x, state, weights), state, gates)

        return step_fn

    def forward_sequence(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """All time steps, input projection and readout hoisted out of the loop (shapes above)."""
        weights = self._prepare()
        # unbind, not p[:, t]: the backward of one unbind is one stack, while the backward of
        # every p[:, t] would materialise a zero tensor of the whole sequence's size
        time = x.shape[1]
        per_step = [
            [None] * time if p is None else p.unbind(1) for p in self._project(x, noise, weights)
        ]
        states, activations = [], []
        for step_input in zip(*per_step, strict=True):
            state, activation = self._recur(step_input, state, weights)
            states.append(state)
            if activation is not None:
                activations.append(activation)
        all_states = torch.stack(states, dim=1)
        gates = self._regularized_gates(torch.stack(activations, dim=1) if activations else None)
        return CellSequence(
            outputs=self._readout(x, all_states, weights),
            state=state,
            gates=gates,
            states=all_states if return_states else None,
        )


class RecurrentStack(RecurrentCell):
    """Cells stacked in depth, behind the cell interface, with one packed state.

    The state is the concatenation of the layers' states in layer order; the gates are the
    concatenation of the gates of the layers that have them; the noise of a step is split among
    the layers by their ``noise_size``.

    Args:
        cells: the layers, bottom first; layer ``l + 1`` reads layer ``l``'s output.
    """

    def __init__(self, cells: Sequence[RecurrentCell]) -> None:
        if not cells:
            raise ValueError("cells: expected at least one recurrent cell, got none")
        for index, (below, above) in enumerate(zip(cells[:-1], cells[1:], strict=True)):
            if below.output_size != above.input_size:
                raise ValueError(
                    f"cells: layer {index + 1} expects input size {above.input_size}, "
                    f"layer {index} outputs {below.output_size}"
                )
        super().__init__(
            input_size=cells[0].input_size,
            output_size=cells[-1].output_size,
            state_size=sum(cell.state_size for cell in cells),
            gate_size=sum(cell.gate_size for cell in cells),
        )
        self.cells = nn.ModuleList(cells)
        self.layer_state_sizes = [cell.state_size for cell in cells]

    @property
    def noise_size(self) -> int:
        """Standard-normal draws per step over all layers in the current mode."""
        return sum(cell.noise_size for cell in self.cells)

    def split_state(self, state: torch.Tensor) -> list[torch.Tensor]:
        """Split a packed state ``(..., state_size)`` into the layers' states (views)."""
        return list(torch.split(state, self.layer_state_sizes, dim=-1))

    def pack_state(self, layer_states: Sequence[torch.Tensor]) -> torch.Tensor:
        """Concatenate the layers' states ``[(..., S_l)]`` into one ``(..., state_size)``."""
        if len(layer_states) != len(self.cells):
            raise ValueError(
                f"layer_states: expected {len(self.cells)} layer states, got {len(layer_states)}"
            )
        return torch.cat(list(layer_states), dim=-1)

    @staticmethod
    def _concat_present(parts: Sequence[torch.Tensor | None]) -> torch.Tensor | None:
        present = [part for part in parts if part is not None]
        if not present:
            return None
        return present[0] if len(present) == 1 else torch.cat(present, dim=-1)

    def _layer_noise(self, noise: torch.Tensor | None) -> Sequence[torch.Tensor | None]:
        if noise is None:
            return [None] * len(self.cells)
        return torch.split(noise, [cell.noise_size for cell in self.cells], dim=-1)

    def make_step_fn(self, *, with_gates: bool = True) -> StepFn:
        """Prepare every layer once and return the one-step function of the whole stack."""
        step_fns = [cell.make_step_fn(with_gates=with_gates) for cell in self.cells]
        if len(step_fns) == 1:
            return step_fns[0]

        def step_fn(x: torch.Tensor, state: torch.Tensor, noise: torch.Tensor | None) -> CellStep:
            new_states, gates = [], []
            for fn, layer_state, layer_noise in zip(
                step_fns, self.split_state(state), self._layer_noise(noise), strict=True
            ):
                x, layer_state, layer_gates = fn(x, layer_state, layer_noise)
                new_states.append(layer_state)
                gates.append(layer_gates)
            return CellStep(x, torch.cat(new_states, dim=-1), self._concat_present(gates))

        return step_fn

    def forward_sequence(
        self,
        x: torch.Tensor,
        state: torch.Tensor,
        noise: torch.Tensor | None = None,
        return_states: bool = False,
    ) -> CellSequence:
        """A whole sequence layer by layer, each on its fastest sequence path (shapes above)."""
        if len(self.cells) == 1:
            return self.cells[0].forward_sequence(x, state, noise, return_states)
        layers = []
        for cell, layer_state, layer_noise in zip(
            self.cells, self.split_state(state), self._layer_noise(noise), strict=True
        ):
            layers.append(cell.forward_sequence(x, layer_state, layer_noise, return_states))
            x = layers[-1].outputs
        return CellSequence(
            outputs=x,
            state=torch.cat([layer.state for layer in layers], dim=-1),
            gates=self._concat_present([layer.gates for layer in layers]),
            states=torch.cat([layer.states for layer in layers], dim=-1) if return_states else None,
        )
