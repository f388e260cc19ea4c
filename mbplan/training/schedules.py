"""Real-input probability of teacher forcing and scheduled sampling.

Scheduled sampling (Bengio et al. 2015) as the GateL0RD reference runs it
(``shared/reference/gatel0rd.md`` Sec. 3): at epoch ``e`` each input after the first ``k`` is the
real observation with probability ``p = max(floor, slope ** e)``, else the model's own previous
prediction. Teacher forcing is ``p = 1`` throughout. The per (sequence, step) draw itself is made by
the world model's ``forward`` from the trainer's ``torch.Generator``.
"""

from __future__ import annotations


def teacher_probability(epoch: int, regime: str, slope: float = 0.998, floor: float = 0.0) -> float:
    """Return the probability that an input after the first ``k`` steps is the real observation.

    Args:
        epoch: completed epochs before this one (0 for the first epoch).
        regime: ``"tf"`` (teacher forcing, always 1) or ``"ss"`` (scheduled sampling).
        slope: per-epoch decay of ``p`` under scheduled sampling (reference: 0.998).
        floor: lower bound of ``p`` under scheduled sampling (reference: BB 0, RRC 0.02,
            Shepherd 0.05).

    Returns:
        ``1.0`` for teacher forcing, ``max(floor, slope ** epoch)`` for scheduled sampling.

    Raises:
        ValueError: for a negative epoch or an unknown regime.
    """
    if epoch < 0:
        raise ValueError(f"epoch: expected >= 0, got {epoch!r}")
    if regime == "tf":
        return 1.0
    if regime == "ss":
        return max(float(floor), float(slope) ** int(epoch))
    raise ValueError(f"regime: expected 'tf' or 'ss', got {regime!r}")


def matched_slope(epochs: int, reference_epochs: int, reference_slope: float = 0.998) -> float:
    """Return the slope that decays ``p`` over ``epochs`` as the reference does over its epochs.

    With a reduced budget the reference slope barely moves ``p`` (``0.998 ** 50 = 0.90``); this
    slope gives ``slope ** (f * epochs) == reference_slope ** (f * reference_epochs)`` for every
    fraction ``f`` of training, so the schedule keeps its shape.

    Args:
        epochs: epochs of the reduced run.
        reference_epochs: epochs of the reference run (BB: 5000).
        reference_slope: the reference's slope.

    Raises:
        ValueError: for non-positive epoch counts.
    """
    if epochs < 1 or reference_epochs < 1:
        raise ValueError(
            f"epochs and reference_epochs: expected >= 1, got {epochs!r} and {reference_epochs!r}"
        )
    return float(reference_slope) ** (reference_epochs / epochs)
