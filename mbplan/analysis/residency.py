"""Residency times: how long noise-driven dynamics stay in the region of their current label.

``shared/reference/cells.md`` C.6 (``residency_plot``): for each state on a noisy trajectory,
run ``repeats`` independent noisy continuations and count the steps until the label (the argmax
of the read-out) changes, capped at ``max_steps``; the residency time (RT) is the mean count.
Regions: RT < 2 "transition", 2 <= RT <= 8 "kick-zone", RT > 8 with maximal softmax probability
above 0.8 "cluster" (the rest: "other").

Generic over cores: the map is any core's :meth:`make_step_fn` driven by Gaussian input
``input_std * N(0, I)``, and the label is any function of the state (``readout``). All states and
repeats advance together (one batched step per time step).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from mbplan.models.cells.base import RecurrentCell
from mbplan.models.validation import check_generator, require_positive_int

#: ``readout(h (n, S)) -> logits (n, K)``.
Readout = Callable[[torch.Tensor], torch.Tensor]

REGIONS = ("transition", "kick-zone", "cluster", "other")


def noisy_trajectory(
    core: RecurrentCell,
    h0: torch.Tensor,
    steps: int,
    generator: torch.Generator,
    *,
    input_std: float = 1.0,
) -> torch.Tensor:
    """States of ``core`` under ``input_std * N(0, I)`` input, ``(n, steps, S)``, after ``h0``."""
    require_positive_int("steps", steps)
    check_generator("generator", generator, h0.device)
    noise = input_std * torch.randn(
        (h0.shape[0], steps, core.input_size), generator=generator, device=h0.device, dtype=h0.dtype
    )
    with torch.no_grad():
        sequence = core.forward_sequence(noise, h0, return_states=True)
    assert sequence.states is not None
    return sequence.states


def residency_times(
    core: RecurrentCell,
    readout: Readout,
    states: torch.Tensor,
    generator: torch.Generator,
    *,
    repeats: int = 20,
    max_steps: int = 50,
    input_std: float = 1.0,
) -> torch.Tensor:
    """Mean steps until the label changes under fresh noise, per starting state.

    Args:
        core: the recurrent cell (its state map under Gaussian input).
        readout: logits from states.
        states: ``(n, S)`` starting states.
        generator: source of the input noise.
        repeats: independent continuations per state (reference 20).
        max_steps: cap on the count (reference 50-60).
        input_std: noise scale.

    Returns:
        ``(n,)`` float residency times in ``[1, max_steps]``.
    """
    require_positive_int("repeats", repeats)
    require_positive_int("max_steps", max_steps)
    check_generator("generator", generator, states.device)
    n = states.shape[0]
    step_fn = core.make_step_fn(with_gates=False)
    with torch.no_grad():
        h = states.repeat_interleave(repeats, dim=0)
        label = readout(h).argmax(-1)
        left_at = torch.full((n * repeats,), max_steps, dtype=torch.long, device=states.device)
        active = torch.ones(n * repeats, dtype=torch.bool, device=states.device)
        for step in range(1, max_steps + 1):
            x = input_std * torch.randn(
                (h.shape[0], core.input_size), generator=generator, device=h.device, dtype=h.dtype
            )
            h = step_fn(x, h, None).state
            changed = active & (readout(h).argmax(-1) != label)
            left_at[changed] = step
            active &= ~changed
        return left_at.view(n, repeats).double().mean(-1)


def classify_regions(
    residency: torch.Tensor,
    max_probability: torch.Tensor,
    *,
    transition_below: float = 2.0,
    cluster_above: float = 8.0,
    cluster_probability: float = 0.8,
) -> list[str]:
    """The reference's regions from residency times and max softmax probabilities, ``(n,)`` each."""
    labels = []
    for rt, prob in zip(residency.tolist(), max_probability.tolist(), strict=True):
        if rt < transition_below:
            labels.append("transition")
        elif rt <= cluster_above:
            labels.append("kick-zone")
        elif prob > cluster_probability:
            labels.append("cluster")
        else:
            labels.append("other")
    return labels
