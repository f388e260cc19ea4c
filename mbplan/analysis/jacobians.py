"""Batched Jacobians of a state map and the local stability they imply.

``jacobians(F, h)`` returns ``dF/dh`` at every row of ``h`` at once, with ``torch.func.jacrev``
vectorised over the rows by ``torch.func.vmap`` (one batched backward per state dimension, no
Python loop over states). Works for any :func:`~mbplan.analysis.state_map.core_map` (every core)
and any other row-wise map, on the device of its inputs.

Stability is that of a discrete-time map: a fixed point is stable when every eigenvalue of the
Jacobian lies inside the unit circle. The reference (``cells.md`` C.6) looks at the Moebius
transform ``(lambda - 1) / (lambda + 1)``, which maps the unit circle onto the imaginary axis
(``|lambda| > 1`` iff ``Re > 0``); :func:`mobius` and :func:`critical_complex_pairs` give its
"unstable" and "critical complex pair" (Hopf-like) counts.
"""

from __future__ import annotations

import torch
from torch.func import jacrev, vmap

from mbplan.analysis.state_map import StateMap

#: Stability labels, in the order :func:`classify_stability` tests them.
STABILITY_LABELS = ("stable", "marginal", "saddle", "unstable")


def jacobians(
    state_map: StateMap, h: torch.Tensor, *, chunk_size: int | None = None
) -> torch.Tensor:
    """Jacobians ``dF(h_i)/dh_i`` of a row-wise map at every row.

    Args:
        state_map: ``F(h (n, S)) -> (n, S')``, rows independent of each other.
        h: ``(n, S)`` states.
        chunk_size: rows per vectorised chunk (``None``: all at once; set it to bound memory).

    Returns:
        ``(n, S', S)``.
    """
    if not isinstance(h, torch.Tensor) or h.dim() != 2:
        got = tuple(h.shape) if isinstance(h, torch.Tensor) else type(h).__name__
        raise ValueError(f"h: expected a tensor of shape (n, state_size), got {got}")

    def single(row: torch.Tensor) -> torch.Tensor:
        return state_map(row.unsqueeze(0)).squeeze(0)

    return vmap(jacrev(single), chunk_size=chunk_size)(h.detach())


def eigenvalues(jacobian: torch.Tensor) -> torch.Tensor:
    """Eigenvalues ``(n, S)`` complex of Jacobians ``(n, S, S)``, sorted by decreasing modulus."""
    values = torch.linalg.eigvals(jacobian)
    order = values.abs().argsort(dim=-1, descending=True)
    return values.gather(-1, order)


def classify_stability(eigvals: torch.Tensor, unit_tol: float = 1e-3) -> list[str]:
    """Label fixed points by the moduli of their Jacobians' eigenvalues (discrete-time map).

    Args:
        eigvals: ``(n, S)`` eigenvalues.
        unit_tol: moduli within ``unit_tol`` of 1 count as marginal.

    Returns:
        One label per point: ``"unstable"`` (every ``|lambda| > 1``), ``"saddle"`` (some above 1,
        some not), ``"marginal"`` (none above 1, some on the unit circle: a line or ring of fixed
        points, or a centre) or ``"stable"`` (all inside).
    """
    modulus = eigvals.abs()
    above = (modulus > 1.0 + unit_tol).sum(-1)
    on_circle = ((modulus - 1.0).abs() <= unit_tol).sum(-1)
    size = eigvals.shape[-1]
    labels = []
    for n_above, n_on in zip(above.tolist(), on_circle.tolist(), strict=True):
        if n_above == size:
            labels.append("unstable")
        elif n_above > 0:
            labels.append("saddle")
        elif n_on > 0:
            labels.append("marginal")
        else:
            labels.append("stable")
    return labels


def mobius(eigvals: torch.Tensor) -> torch.Tensor:
    """``(lambda - 1) / (lambda + 1)``: the unit circle onto the imaginary axis (C.6)."""
    return (eigvals - 1) / (eigvals + 1)


def critical_complex_pairs(
    eigvals: torch.Tensor, re_tol: float = 0.1, im_min: float = 0.05
) -> torch.Tensor:
    """Count per point the Moebius-transformed eigenvalues with ``|Re| < re_tol, Im > im_min``.

    The reference's "critical complex pair" count (one per conjugate pair, since only ``Im > 0``
    is counted). Returns ``(n,)`` int64.
    """
    transformed = mobius(eigvals)
    critical = (transformed.real.abs() < re_tol) & (transformed.imag > im_min)
    return critical.sum(-1)
