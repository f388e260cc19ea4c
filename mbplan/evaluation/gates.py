"""Gate statistics of GateL0RD: how often, when and in which dimensions the latent state changes.

The reference's three measures (``shared/reference/gatel0rd.md`` Sec. 3, ``gating_analysis.py``),
computed on the regularised gate ``Theta`` (1 where a gate is open, else 0), plus the paper's
Fig. 3d quantity, the mean number of gate openings per sequence.
"""

from __future__ import annotations

import torch


def gate_statistics(gates: torch.Tensor) -> dict[str, float]:
    """Summarise gate activations.

    Args:
        gates: ``(batch, time, G)`` Theta (any value != 0 counts as open); all layers concatenated.

    Returns:
        ``gate_rate``: fraction of open gates over batch x time x G;
        ``open_step_fraction``: fraction of (sequence, step) with at least one gate open;
        ``dims_used``: fraction of (sequence, gate) that opened at least once in the sequence;
        ``openings_per_sequence``: open gates summed over time and G, averaged over sequences.

    Raises:
        ValueError: if ``gates`` is not 3-dimensional or is empty.
    """
    if gates.dim() != 3 or gates.numel() == 0:
        raise ValueError(
            f"gates: expected a non-empty (batch, time, G) tensor, got shape {tuple(gates.shape)}"
        )
    is_open = gates != 0
    return {
        "gate_rate": float(is_open.double().mean()),
        "open_step_fraction": float(is_open.any(dim=2).double().mean()),
        "dims_used": float(is_open.any(dim=1).double().mean()),
        "openings_per_sequence": float(is_open.double().sum(dim=(1, 2)).mean()),
    }
