"""States a core reaches on real data: the end of random-length prefixes of input sequences.

The VAA and VAA* start from states that the network can actually reach (``shared/reference/
cells.md`` Sec. B.3, ``sample_hidden_states``): for each sequence a prefix length
``c ~ U{1 .. T}`` is drawn and the network's state after the first ``c`` inputs is kept (all
layers, packed; an LSTM's ``h`` and ``c``).

The official code runs one forward pass per sequence; here one pass over the whole batch keeps
the state after every step and the state at step ``c - 1`` is gathered per sequence, which is the
same state (the state after ``c`` steps does not depend on later inputs).

Two sources:

* :func:`core_prefix_states`: a bare core fed its input sequences (the benchmarks' networks);
* :func:`world_model_prefix_states`: a world model on real ``(observation, action)`` sequences.
  Its core's inputs are the ``f_pre`` features of the real inputs (teacher forcing: every input
  real) and its state starts from ``f_init`` of the first ``k`` inputs, exactly as when the model
  filters real data; the state after ``c`` real inputs is kept. Gradients flow through ``f_pre``
  and ``f_init`` as through the core (the official warmup differentiates through its sampled
  states, whole network included). The model runs deterministically (gate noise off, as in
  evaluation); its training mode is restored afterwards.

Gradients flow unless the caller runs under ``torch.no_grad()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn

from mbplan.models.cells.base import RecurrentCell


def prefix_lengths(n: int, time: int, generator: torch.Generator) -> torch.Tensor:
    """Draw ``n`` prefix lengths ``c ~ U{1 .. time}``, ``(n,)`` int64 on the generator's device."""
    if time < 1:
        raise ValueError(f"time: expected sequences of at least one step, got {time}")
    return torch.randint(1, time + 1, (n,), generator=generator, device=generator.device)


def _resolve_lengths(
    n: int, time: int, lengths: torch.Tensor | None, generator: torch.Generator | None
) -> torch.Tensor:
    if lengths is None:
        if generator is None:
            raise ValueError("generator: expected a torch.Generator to draw prefix lengths")
        lengths = prefix_lengths(n, time, generator)
    if tuple(lengths.shape) != (n,) or lengths.dtype != torch.int64:
        raise ValueError(f"lengths: expected ({n},) int64, got {tuple(lengths.shape)}")
    if bool(((lengths < 1) | (lengths > time)).any()):
        raise ValueError(f"lengths: expected values in [1, {time}], got {lengths.tolist()}")
    return lengths


def _gather_states(states: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """``states (n, T, S)``, ``lengths (n,)`` -> the state after ``lengths[i]`` steps (n, S)."""
    index = (lengths.to(states.device) - 1).view(-1, 1, 1).expand(-1, 1, states.shape[-1])
    return states.gather(1, index).squeeze(1)


@contextlib.contextmanager
def deterministic(module: nn.Module) -> Iterator[None]:
    """Evaluation mode inside the block (no gate noise), the previous mode restored after it."""
    modes = [(sub, sub.training) for sub in module.modules()]
    module.eval()
    try:
        yield
    finally:
        for sub, mode in modes:
            sub.training = mode


def core_prefix_states(
    core: RecurrentCell,
    inputs: torch.Tensor,
    *,
    lengths: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    initial_state: torch.Tensor | None = None,
) -> torch.Tensor:
    """The core's state after a random-length prefix of each input sequence.

    Args:
        core: any cell or stack.
        inputs: ``(n, T, input_size)`` real input sequences.
        lengths: ``(n,)`` int64 prefix lengths in ``[1, T]`` (default: drawn from ``generator``).
        generator: draws the lengths when they are not given.
        initial_state: ``(n, state_size)`` state before the first input (default: zeros).

    Returns:
        ``(n, state_size)`` packed states.
    """
    if inputs.dim() != 3 or inputs.shape[-1] != core.input_size:
        raise ValueError(
            f"inputs: expected (n, T, input_size={core.input_size}), got {tuple(inputs.shape)}"
        )
    n, time = inputs.shape[:2]
    lengths = _resolve_lengths(n, time, lengths, generator)
    if initial_state is None:
        initial_state = inputs.new_zeros((n, core.state_size))
    with deterministic(core):
        sequence = core.forward_sequence(inputs, initial_state, None, return_states=True)
    return _gather_states(sequence.states, lengths)


def world_model_prefix_states(
    model: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    *,
    lengths: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """A world model's core state after a random-length prefix of real (obs, action) sequences.

    Args:
        model: a :class:`~mbplan.models.world_model.WorldModel`.
        observations: ``(n, T, obs_dim)`` real inputs ``o_0 .. o_{T-1}`` (a split's
            ``observations[:, :-1]``), ``T >= max(k, 1)``.
        actions: ``(n, T, action_dim)``.
        lengths: ``(n,)`` int64 prefix lengths in ``[1, T]`` (default: drawn from ``generator``).
        generator: draws the lengths when they are not given.

    Returns:
        ``(n, state_size)`` packed core states (see the module docstring).
    """
    if observations.dim() != 3:
        raise ValueError(f"observations: expected (n, T, obs_dim), got {tuple(observations.shape)}")
    n, time = observations.shape[:2]
    lengths = _resolve_lengths(n, time, lengths, generator)
    with deterministic(model):
        output = model(observations, actions, 1.0, return_states=True)
    return _gather_states(output.states, lengths)
