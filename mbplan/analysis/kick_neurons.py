"""Kick-neuron candidates and the noise-integrating populations that drive them.

``shared/reference/cells.md`` C.6: in the trained HMM emulators a few "kick neurons" initiate the
fast transitions between slow, noise-driven regions. The reference picks them by hand
(e.g. ``[83, 6, 59]`` and ``[114, 72, 28]`` for its 2-state model) and derives the integrating
populations from the recurrent weights; both steps are here.

* :func:`kick_neuron_candidates` [inference: an automatic selection in the spirit of the
  reference's hand-picking, not the reference's procedure]: on a noisy trajectory with labels
  (argmax of the read-out), the switches ``a -> b`` are located; for each direction the units
  are ranked by how much their mean activity in the ``window`` steps before a switch exceeds
  their mean activity over the whole trajectory, in units of their standard deviation.
* :func:`integrating_populations` (the reference's rule): with ``g1[j]`` the mean weight from
  unit ``j`` onto kick group 1 (``W_hh[group1, j]`` averaged over the group) and ``g2``
  likewise, the ``count`` units with the smallest product ``g1[j] g2[j]`` (the most
  opposite-signed projections), ordered by ``g1`` and split into two halves.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mbplan.models.validation import require_positive_int


class KickCandidates(NamedTuple):
    """Units whose activity rises just before switches of each direction.

    Attributes:
        directions: ``[(from_label, to_label), ...]`` switches that occurred.
        units: ``(len(directions), top)`` unit indices, strongest first.
        scores: ``(len(directions), top)`` their pre-switch z-scores.
        switches: ``(len(directions),)`` how many switches of each direction were seen.
    """

    directions: list[tuple[int, int]]
    units: torch.Tensor
    scores: torch.Tensor
    switches: torch.Tensor


def switch_times(labels: torch.Tensor) -> torch.Tensor:
    """Time indices ``t`` with ``labels[t] != labels[t - 1]`` for a ``(T,)`` label sequence."""
    if labels.dim() != 1:
        raise ValueError(f"labels: expected shape (time,), got {tuple(labels.shape)}")
    return torch.nonzero(labels[1:] != labels[:-1]).squeeze(-1) + 1


def kick_neuron_candidates(
    states: torch.Tensor, labels: torch.Tensor, *, window: int = 3, top: int = 3
) -> KickCandidates:
    """Rank units by their activity just before label switches (see the module docstring).

    Args:
        states: ``(T, S)`` a noisy trajectory.
        labels: ``(T,)`` the emitted label at each step (argmax of the read-out).
        window: steps before a switch that count as "just before".
        top: units reported per direction.

    Returns:
        :class:`KickCandidates`.
    """
    require_positive_int("window", window)
    require_positive_int("top", top)
    if states.dim() != 2 or labels.shape != states.shape[:1]:
        raise ValueError(
            f"states, labels: expected (time, S) and (time,), got {tuple(states.shape)} and "
            f"{tuple(labels.shape)}"
        )
    mean, std = states.mean(0), states.std(0).clamp(min=1e-8)
    times = switch_times(labels)
    times = times[times >= window]
    by_direction: dict[tuple[int, int], list[int]] = {}
    for t in times.tolist():
        by_direction.setdefault((int(labels[t - 1]), int(labels[t])), []).append(t)
    directions = sorted(by_direction)
    units, scores, counts = [], [], []
    offsets = torch.arange(-window, 0, device=states.device)
    for direction in directions:
        switch = torch.tensor(by_direction[direction], device=states.device)
        before = states[(switch[:, None] + offsets).flatten()]  # (switches * window, S)
        z = (before.mean(0) - mean) / std
        best = z.topk(min(top, z.shape[0]))
        units.append(best.indices)
        scores.append(best.values)
        counts.append(len(by_direction[direction]))
    size = min(top, states.shape[1])
    return KickCandidates(
        directions=directions,
        units=torch.stack(units) if units else torch.zeros((0, size), dtype=torch.long),
        scores=torch.stack(scores) if scores else torch.zeros((0, size)),
        switches=torch.tensor(counts, dtype=torch.long),
    )


def integrating_populations(
    weight_hh: torch.Tensor, group1: list[int], group2: list[int], count: int = 70
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two noise-integrating populations projecting onto two kick groups (reference rule).

    Args:
        weight_hh: ``(S, S)`` recurrent weights, ``W[i, j]`` from unit ``j`` to unit ``i``.
        group1: unit indices of kick group 1.
        group2: unit indices of kick group 2.
        count: units taken (reference 70).

    Returns:
        ``(population_1, population_2)`` unit indices: the ``count`` units with the smallest
        ``g1 * g2``, ordered by increasing ``g1`` and split into halves.
    """
    require_positive_int("count", count)
    if weight_hh.dim() != 2 or weight_hh.shape[0] != weight_hh.shape[1]:
        raise ValueError(f"weight_hh: expected a square matrix, got {tuple(weight_hh.shape)}")
    if not group1 or not group2:
        raise ValueError("group1, group2: expected non-empty lists of unit indices")
    g1 = weight_hh[group1].mean(0)
    g2 = weight_hh[group2].mean(0)
    chosen = (g1 * g2).argsort()[: min(count, weight_hh.shape[0])]
    ordered = chosen[g1[chosen].argsort()]
    half = ordered.shape[0] // 2
    return ordered[:half], ordered[half:]
