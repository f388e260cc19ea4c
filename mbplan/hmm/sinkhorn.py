"""Optimal transport between point clouds: the training loss and the evaluation matching.

* :func:`sinkhorn_divergence`, the training loss (``cells.md`` C.4): the debiased Sinkhorn
  divergence of ``geomloss.SamplesLoss("sinkhorn", p=2, blur=0.2, debias=True, scaling=0.5)``
  between two clouds with uniform weights; cost ``1/2 ||x - y||^2``, entropic temperature
  ``blur ** 2``. It is exactly 0 for identical clouds, and for a cloud against its translate by
  ``v`` it is ``1/2 ||v||^2`` (debiasing removes the entropic bias). geomloss is an optional
  dependency (extra ``hmm``): imported on first use.
* :func:`entropic_transport_plan`, the evaluation solver (C.5): the reference's log-domain Sinkhorn
  iterations with Euclidean cost ``||x - y||`` (not squared), ``epsilon = 0.1``, at most 1000
  iterations, stopping once the mean absolute change of the potentials is below 0.1; re-implemented
  here in torch.
"""

from __future__ import annotations

from typing import Any

import torch

from mbplan.models.validation import require_positive_int


def _samples_loss(blur: float, scaling: float) -> Any:
    try:
        from geomloss import SamplesLoss
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "the Sinkhorn training loss needs geomloss: pip install 'mbplan[hmm]' "
            "(or pip install geomloss)"
        ) from err
    return SamplesLoss(
        "sinkhorn", p=2, blur=blur, debias=True, scaling=scaling, backend="tensorized"
    )


def _check_clouds(x: torch.Tensor, y: torch.Tensor) -> None:
    for name, cloud in (("x", x), ("y", y)):
        if not isinstance(cloud, torch.Tensor) or cloud.dim() != 2 or cloud.shape[0] < 1:
            got = tuple(cloud.shape) if isinstance(cloud, torch.Tensor) else type(cloud).__name__
            raise ValueError(f"{name}: expected a point cloud of shape (n, dim), got {got}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x, y: expected the same dim, got {x.shape[1]} and {y.shape[1]}")


def sinkhorn_divergence(
    x: torch.Tensor, y: torch.Tensor, *, blur: float = 0.2, scaling: float = 0.5
) -> torch.Tensor:
    """Debiased Sinkhorn divergence between two uniformly weighted clouds.

    Args:
        x: ``(n, dim)``; for sequences, flatten ``(n, time, K)`` to ``(n, time * K)``.
        y: ``(m, dim)``.
        blur: the entropic length scale (``epsilon = blur ** 2``); reference 0.2.
        scaling: geomloss's epsilon-scaling factor (its default 0.5).

    Returns:
        A scalar, differentiable with respect to both clouds.
    """
    _check_clouds(x, y)
    if not blur > 0 or not 0 < scaling < 1:
        raise ValueError(
            f"blur, scaling: expected blur > 0, 0 < scaling < 1; got {blur}, {scaling}"
        )
    return _samples_loss(blur, scaling)(x, y)


def entropic_transport_plan(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float = 0.1,
    iterations: int = 1000,
    threshold: float = 0.1,
) -> torch.Tensor:
    """The entropic optimal transport plan between two uniformly weighted clouds.

    Log-domain Sinkhorn (the reference's ``SinkhornSolver``), cost ``C = cdist(x, y)``::

        u <- u + eps (log a - logsumexp((-C + u + v) / eps, over y))
        v <- v + eps (log b - logsumexp((-C + u + v) / eps, over x))
        pi = exp((-C + u + v) / eps)

    Args:
        x: ``(n, dim)``.
        y: ``(m, dim)``.
        epsilon: entropic regularisation (reference: 0.1).
        iterations: maximum iterations (reference: 1000).
        threshold: stop once ``sum|du| + sum|dv|`` falls below this (reference: 0.1).

    Returns:
        ``(n, m)`` the plan (rows sum to ``1/n``, columns to ``1/m`` at convergence).
    """
    _check_clouds(x, y)
    require_positive_int("iterations", iterations)
    if not epsilon > 0:
        raise ValueError(f"epsilon: expected a value > 0, got {epsilon!r}")
    with torch.no_grad():
        cost = torch.cdist(x, y)
        log_a = torch.log(x.new_full((x.shape[0],), 1.0 / x.shape[0]) + 1e-8)
        log_b = torch.log(y.new_full((y.shape[0],), 1.0 / y.shape[0]) + 1e-8)
        u, v = torch.zeros_like(log_a), torch.zeros_like(log_b)
        for _ in range(iterations):
            u_old, v_old = u, v
            u = u + epsilon * (log_a - torch.logsumexp((-cost + u[:, None] + v[None]) / epsilon, 1))
            v = v + epsilon * (log_b - torch.logsumexp((-cost + u[:, None] + v[None]) / epsilon, 0))
            change = (u - u_old).abs().sum() + (v - v_old).abs().sum()
            if float(change) < threshold:
                break
        return torch.exp((-cost + u[:, None] + v[None]) / epsilon)
