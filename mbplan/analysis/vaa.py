"""Reachable multistability: the VAA and its differentiable approximation VAA*.

Definitions (Lambrechts, De Geeter, Vecoven, Ernst, Drion, Neural Networks 2023; the truncated
measures of the official code, ``shared/reference/cells.md`` Sec. B.3). For ``n`` final states
``h_1 .. h_n`` and a tolerance ``epsilon``::

    VAA(h)  = (1/n) sum_i 1 / |{j : ||h_j - h_i|| < epsilon}|        (j = i counts)
    VAA*(h) = (1/n) sum_i 1 / sum_j C_ij,
              d_ij = ||tanh(h_j) - tanh(h_i)||,  C_ij = 1 - ReLU(d_ij - epsilon) / (d_ij + delta)

with ``delta = 1e-6``. Both lie in ``[1/n, 1]``: ``1/n`` when every state reached one attractor,
``1`` when all states stay more than ``epsilon`` apart. ``C_ij`` is 1 for ``d_ij <= epsilon`` and
``(epsilon + delta) / (d_ij + delta)`` beyond, so VAA* equals VAA wherever every distance is
below ``epsilon`` or far above it.

How the final states are produced (the official procedure):

* the initial states are states the network reaches on real data (see
  :mod:`mbplan.analysis.state_sampling`: random-length prefixes of real input sequences);
* **VAA** (a measurement, no gradient): one input ``u ~ N(0, I)`` is held constant and shared by
  all ``n`` states; the whole core (every layer) runs ``steps`` steps from the initial states
  through the state map of :mod:`mbplan.analysis.state_map`, and the packed states of all layers
  (an LSTM's ``h`` and ``c`` included) are compared;
* **VAA*** (the warmup objective, with gradient): per layer, a fresh ``u_l ~ N(0, I)`` of that
  layer's input size is held, only that layer's cell runs ``steps`` steps from its part of the
  initial state, and VAA* is taken on its packed state: one value per layer.

World models: pass ``model.core`` and states from
:func:`~mbplan.analysis.state_sampling.world_model_prefix_states`; the held input is then drawn in
the core's input space (``f_pre``'s features), as the definition on the core prescribes. ``f_pre``
ends in a tanh, so real features lie in (-1, 1) while ``N(0, I)`` draws often exceed it: the
measure probes the core's dynamics beyond the inputs it was trained on (a property of the
definition, kept as is).

Vectorised: all pairwise distances of a set come from one ``torch.cdist`` call, with
``compute_mode="donot_use_mm_for_euclid_dist"`` (the matrix-product shortcut loses states closer
than about ``1e-3`` in float32, far above ``epsilon = 1e-4``). Every function is batched over
leading dimensions, ``states (..., n, d)``, so several independent estimates (each with its own
held input) run as one batch of ``(... * n)`` states; everything stays on the input's device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from mbplan.analysis.state_map import core_map, iterate, layer_slices
from mbplan.models.cells.base import RecurrentCell

#: the VAA tolerance of the official code.
EPSILON = 1e-4
#: ``delta`` in VAA*'s soft indicator (the official code's ``EPSILON_INVERSE``).
DELTA = 1e-6


def _check_states(states: torch.Tensor) -> torch.Tensor:
    if not isinstance(states, torch.Tensor):
        raise ValueError(f"states: expected a tensor, got {type(states).__name__}")
    if states.dim() < 2 or states.shape[-2] < 1 or not states.is_floating_point():
        raise ValueError(
            f"states: expected a floating tensor (..., n >= 1, dim), got {tuple(states.shape)} "
            f"{states.dtype}"
        )
    return states


def _check_epsilon(epsilon: float) -> float:
    if not epsilon > 0:
        raise ValueError(f"epsilon: expected a tolerance > 0, got {epsilon!r}")
    return float(epsilon)


def pairwise_distances(states: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between all states of each set, exactly (no matrix-product shortcut).

    Args:
        states: ``(..., n, dim)``.

    Returns:
        ``(..., n, n)``; differentiable (zero gradient on the zero diagonal).
    """
    states = _check_states(states)
    return torch.cdist(states, states, compute_mode="donot_use_mm_for_euclid_dist")


def vaa_of_states(states: torch.Tensor, epsilon: float = EPSILON) -> torch.Tensor:
    """VAA of sets of final states (no gradient: a count).

    Args:
        states: ``(..., n, dim)`` final states, ``n`` per set.
        epsilon: distance below which two states count as the same attractor.

    Returns:
        ``(...)`` the VAA of every set, in ``[1/n, 1]``.
    """
    epsilon = _check_epsilon(epsilon)
    with torch.no_grad():
        same = pairwise_distances(states) < epsilon
        return same.sum(dim=-1).to(states.dtype).reciprocal().mean(dim=-1)


def vaa_star_of_states(
    states: torch.Tensor, epsilon: float = EPSILON, delta: float = DELTA
) -> torch.Tensor:
    """VAA* of sets of final states, differentiable.

    Args:
        states: ``(..., n, dim)`` final states (squashed by ``tanh`` here, as the definition).
        epsilon: the tolerance.
        delta: the small constant in ``C_ij``'s denominator.

    Returns:
        ``(...)`` the VAA* of every set, in ``[1/n, 1]``.
    """
    epsilon = _check_epsilon(epsilon)
    distances = pairwise_distances(torch.tanh(_check_states(states)))
    closeness = 1.0 - F.relu(distances - epsilon) / (distances + delta)
    return closeness.sum(dim=-1).reciprocal().mean(dim=-1)


def held_inputs(
    shape: Sequence[int],
    input_size: int,
    generator: torch.Generator | None,
    like: torch.Tensor,
) -> torch.Tensor:
    """Draw held inputs ``u ~ N(0, I)``, one per set: ``(*shape, input_size)``.

    Draws come from ``generator`` on its own device and are moved to ``like``'s device and dtype,
    so a CPU generator gives the same inputs on every device.
    """
    if generator is None:
        raise ValueError("generator: expected a torch.Generator for the held inputs, got None")
    draw = torch.randn(
        (*shape, input_size), generator=generator, device=generator.device, dtype=like.dtype
    )
    return draw.to(like.device)


def converge(
    core: RecurrentCell, initial_states: torch.Tensor, steps: int, inputs: torch.Tensor
) -> torch.Tensor:
    """Run ``core`` ``steps`` steps from every state with one input held per set.

    Args:
        core: any cell or stack.
        initial_states: ``(..., n, state_size)``.
        steps: number of steps (>= 0).
        inputs: ``(..., input_size)`` one held input per set (shared by its ``n`` states).

    Returns:
        ``(..., n, state_size)`` the final states (with gradient when autograd is on).
    """
    states = _check_states(initial_states)
    if states.shape[-1] != core.state_size:
        raise ValueError(
            f"initial_states: expected (..., n, state_size={core.state_size}), "
            f"got {tuple(states.shape)}"
        )
    batch_shape, n = states.shape[:-2], states.shape[-2]
    if tuple(inputs.shape) != (*batch_shape, core.input_size):
        raise ValueError(
            f"inputs: expected shape {(*batch_shape, core.input_size)} (one per set), "
            f"got {tuple(inputs.shape)}"
        )
    flat_inputs = inputs.unsqueeze(-2).expand(*batch_shape, n, -1).reshape(-1, core.input_size)
    final = iterate(core_map(core, flat_inputs), states.reshape(-1, core.state_size), steps)
    return final.reshape(states.shape)


def vaa(
    core: RecurrentCell,
    initial_states: torch.Tensor,
    steps: int,
    *,
    generator: torch.Generator | None = None,
    inputs: torch.Tensor | None = None,
    epsilon: float = EPSILON,
) -> torch.Tensor:
    """The VAA of a core (all layers) from sampled initial states, without gradient.

    Args:
        core: any cell or stack (a world model's ``model.core``).
        initial_states: ``(..., n, state_size)`` packed states reached on real data.
        steps: convergence steps under the held input (official measure: 10 000).
        generator: draws the held input ``u ~ N(0, I)``, one per set (when ``inputs`` is None).
        inputs: ``(..., input_size)`` the held inputs instead of a draw.
        epsilon: the tolerance.

    Returns:
        ``(...)`` the VAA of every set of ``n`` states.
    """
    states = _check_states(initial_states)
    if inputs is None:
        inputs = held_inputs(states.shape[:-2], core.input_size, generator, states)
    with torch.no_grad():
        return vaa_of_states(converge(core, states, steps, inputs), epsilon)


def vaa_star(
    core: RecurrentCell,
    initial_states: torch.Tensor,
    steps: int,
    *,
    generator: torch.Generator | None = None,
    inputs: Sequence[torch.Tensor] | None = None,
    epsilon: float = EPSILON,
    layers: Sequence[tuple[RecurrentCell, slice]] | None = None,
) -> torch.Tensor:
    """VAA* per layer of a core, differentiable (the warmup objective).

    Args:
        core: any cell or stack.
        initial_states: ``(..., n, state_size)`` packed states of the whole core.
        steps: convergence steps under the held input.
        generator: draws each layer's held input ``u_l ~ N(0, I)`` (when ``inputs`` is None),
            layer by layer, one per set.
        inputs: per layer, ``(..., input_size_l)`` held inputs instead of a draw.
        epsilon: the tolerance.
        layers: ``(cell, slice of the packed state)`` per measured layer; default
            :func:`~mbplan.analysis.state_map.layer_slices` (every layer, whole). The partial
            warmup passes a double layer's first half here.

    Returns:
        ``(..., n_layers)`` VAA* of every measured layer.
    """
    states = _check_states(initial_states)
    if states.shape[-1] != core.state_size:
        raise ValueError(
            f"initial_states: expected (..., n, state_size={core.state_size}), "
            f"got {tuple(states.shape)}"
        )
    layers = list(layer_slices(core) if layers is None else layers)
    if inputs is not None and len(inputs) != len(layers):
        raise ValueError(
            f"inputs: expected one tensor per layer ({len(layers)}), got {len(inputs)}"
        )
    values = []
    for index, (cell, piece) in enumerate(layers):
        if inputs is None:
            held = held_inputs(states.shape[:-2], cell.input_size, generator, states)
        else:
            held = inputs[index]
        final = converge(cell, states[..., piece], steps, held)
        values.append(vaa_star_of_states(final, epsilon))
    return torch.stack(values, dim=-1)
