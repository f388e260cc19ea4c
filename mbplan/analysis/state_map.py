"""The one-step state map of a recurrent core under a held input: the seam of every analysis.

``core_map(core, x)`` returns ``F(h) = core.step(x, h).state`` as a plain function of the packed
state ``h (n, state_size)``, with the input ``x`` held constant over time (one input for all
states, ``(input_size,)``, or one per state, ``(n, input_size)``). Fixed-point finders, Jacobians,
VAA measures and trajectory plots are all written against this function, so they work for every
core (GateL0RD, Elman, GRU, LSTM with its packed ``[h, c]``, BRC, nBRC, stacks, and cores
registered later) without knowing the cell.

The map is deterministic: stochastic cells (GateL0RD's gate noise) get no noise, which is what
they do in evaluation mode. Gradients flow through the map (VAA* and warmup need them); wrap calls
in ``torch.no_grad()`` where they are not needed.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mbplan.models.cells.base import RecurrentCell, RecurrentStack

#: ``F(h (n, state_size)) -> h' (n, state_size)``.
StateMap = Callable[[torch.Tensor], torch.Tensor]


def _held_input(core: RecurrentCell, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x: expected a tensor, got {type(x).__name__}")
    if x.dim() not in (1, 2) or x.shape[-1] != core.input_size:
        raise ValueError(
            f"x: expected shape (input_size={core.input_size},) or (n, {core.input_size}), "
            f"got {tuple(x.shape)}"
        )
    return x


def core_map(core: RecurrentCell, x: torch.Tensor) -> StateMap:
    """The state map of ``core`` with the input held at ``x``.

    Args:
        core: any recurrent cell or :class:`RecurrentStack` (the whole stack: the state is all
            layers' packed states side by side).
        x: ``(input_size,)`` one input for every state, or ``(n, input_size)`` one per state.

    Returns:
        ``F(h (n, state_size)) -> (n, state_size)``. The cell's derived weights are prepared
        once, here; rebuild the map after changing the parameters.

    Raises:
        ValueError: for an input of the wrong shape, or states of the wrong size (when called).
    """
    x = _held_input(core, x)
    step_fn = core.make_step_fn(with_gates=False)
    state_size = core.state_size

    def state_map(h: torch.Tensor) -> torch.Tensor:
        if h.dim() != 2 or h.shape[-1] != state_size:
            raise ValueError(
                f"h: expected shape (n, state_size={state_size}), got {tuple(h.shape)}"
            )
        inputs = x.expand(h.shape[0], -1) if x.dim() == 1 else x
        return step_fn(inputs, h, None).state

    return state_map


def layer_maps(core: RecurrentCell) -> list[RecurrentCell]:
    """The layers of a core, bottom first (a single cell is its own only layer).

    Per-layer analyses (VAA*, partial warmup) build one :func:`core_map` per layer with an input of
    that layer's ``input_size``.
    """
    if isinstance(core, RecurrentStack):
        return list(core.cells)
    return [core]


def layer_slices(core: RecurrentCell) -> list[tuple[RecurrentCell, slice]]:
    """Each layer of :func:`layer_maps` with the slice of the packed state it owns.

    ``h[..., piece]`` is that layer's state for a packed state ``h (..., core.state_size)``.
    """
    slices, start = [], 0
    for cell in layer_maps(core):
        slices.append((cell, slice(start, start + cell.state_size)))
        start += cell.state_size
    return slices


def iterate(
    state_map: StateMap, h: torch.Tensor, steps: int, *, return_trajectory: bool = False
) -> torch.Tensor:
    """Apply ``state_map`` ``steps`` times.

    Args:
        state_map: from :func:`core_map`.
        h: ``(n, state_size)`` initial states.
        steps: number of applications (>= 0).
        return_trajectory: return every state, ``(n, steps + 1, state_size)`` with ``h`` first,
            instead of only the last.

    Returns:
        ``(n, state_size)`` the states after ``steps`` steps, or the trajectory.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps: expected an integer >= 0, got {steps!r}")
    trajectory = [h]
    for _ in range(steps):
        h = state_map(h)
        if return_trajectory:
            trajectory.append(h)
    return torch.stack(trajectory, dim=1) if return_trajectory else h
