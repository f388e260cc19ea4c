"""Fixed and slow points of a state map, from many initial states at once.

Following Sussillo and Barak (2013), fixed points of ``h -> F(h)`` are the minima of the speed
``q(h) = 1/2 ||F(h) - h||^2`` with ``q = 0``; slow points are local minima with a small positive
``q``. :func:`find_fixed_points` minimises ``q`` from ``n`` initial states together (one batched
map call and one batched backward per iteration; rows never interact, so it is ``n`` independent
minimisations), keeps the candidates with ``q`` below a threshold, merges the ones closer than a
tolerance, and classifies each by the eigenvalues of its Jacobian
(:mod:`mbplan.analysis.jacobians`).

Two phases, both batched over rows: Adam on the states with an exponentially decaying step (from
``lr`` to ``lr * final_lr_fraction``; the global search, stopping early once every row's ``q`` is
below ``tol``), then a few Levenberg-Marquardt steps on the residual ``r = F(h) - h`` with the
batched Jacobian ``A = dF/dh - I``: ``h <- h - (A^T A + mu I)^{-1} A^T r``, a row's step accepted
only where it lowers that row's ``q`` (``mu`` per row, divided by 10 after a success and multiplied
by 10 after a failure). Adam alone stalls near a minimum reached after large early gradients (its
second-moment estimate remembers them); the Gauss-Newton steps converge quadratically there and
exactly in one step for an affine map. The map's own parameters get no gradient. Everything runs
on the device of the initial states.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mbplan.analysis.jacobians import classify_stability, eigenvalues, jacobians
from mbplan.analysis.state_map import StateMap
from mbplan.models.validation import require_positive_int


class FixedPoints(NamedTuple):
    """Distinct fixed (or slow) points and their local stability.

    Attributes:
        points: ``(k, S)`` the distinct points, lowest ``q`` first.
        q: ``(k,)`` their speed ``1/2 ||F(h) - h||^2``.
        jacobians: ``(k, S, S)``.
        eigenvalues: ``(k, S)`` complex, by decreasing modulus.
        stability: ``k`` labels (see :func:`~mbplan.analysis.jacobians.classify_stability`).
        counts: ``(k,)`` how many initial states converged to each point.
        assignment: ``(n,)`` the point each initial state converged to, -1 where its final ``q``
            stayed above the threshold.
        final_states: ``(n, S)`` where each minimisation ended.
        final_q: ``(n,)`` the speed there.
    """

    points: torch.Tensor
    q: torch.Tensor
    jacobians: torch.Tensor
    eigenvalues: torch.Tensor
    stability: list[str]
    counts: torch.Tensor
    assignment: torch.Tensor
    final_states: torch.Tensor
    final_q: torch.Tensor


def speed(state_map: StateMap, h: torch.Tensor) -> torch.Tensor:
    """``q(h) = 1/2 ||F(h) - h||^2`` per row: ``(n, S) -> (n,)``."""
    return 0.5 * (state_map(h) - h).pow(2).sum(-1)


def minimise_speed(
    state_map: StateMap,
    initial_states: torch.Tensor,
    *,
    steps: int = 2000,
    lr: float = 1e-2,
    final_lr_fraction: float = 1e-3,
    tol: float = 1e-12,
    check_every: int = 50,
    refine_steps: int = 8,
    damping: float = 1e-6,
    chunk_size: int | None = 512,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise ``q`` from every initial state (independently, in one batch).

    Args:
        state_map: ``F(h (n, S)) -> (n, S)``.
        initial_states: ``(n, S)``.
        steps: maximum Adam steps.
        lr: initial step size.
        final_lr_fraction: the step decays exponentially to ``lr * final_lr_fraction``.
        tol: stop once every row's ``q`` is below this (checked every ``check_every`` steps,
            the only host synchronisations).
        check_every: steps between convergence checks.
        refine_steps: Levenberg-Marquardt steps after Adam (0: none).
        damping: initial ``mu`` of those steps.
        chunk_size: rows per vectorised Jacobian chunk (bounds memory: ``chunk_size * S^2``).

    Returns:
        ``(h (n, S), q (n,))`` at the end, detached.
    """
    if not isinstance(initial_states, torch.Tensor) or initial_states.dim() != 2:
        raise ValueError("initial_states: expected a tensor of shape (n, state_size)")
    require_positive_int("steps", steps, allow_zero=True)
    require_positive_int("check_every", check_every)
    require_positive_int("refine_steps", refine_steps, allow_zero=True)
    if not lr > 0 or not 0 < final_lr_fraction <= 1:
        raise ValueError(
            f"lr, final_lr_fraction: expected lr > 0 and 0 < fraction <= 1, got "
            f"{lr!r}, {final_lr_fraction!r}"
        )
    h = initial_states.detach().clone().requires_grad_(True)
    optimiser = torch.optim.Adam([h], lr=lr)
    decay = final_lr_fraction ** (1.0 / max(steps, 1))
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=decay)
    with torch.enable_grad():
        for step in range(steps):
            q = speed(state_map, h)
            if step % check_every == 0 and bool(q.max() < tol):
                break
            (grad,) = torch.autograd.grad(q.sum(), h)
            h.grad = grad
            optimiser.step()
            scheduler.step()
    h = h.detach()
    with torch.no_grad():
        q = speed(state_map, h)
    mu = torch.full_like(q, damping)
    for _ in range(refine_steps):
        h, q, mu = _levenberg_marquardt_step(state_map, h, q, mu, chunk_size)
    return h, q


def _levenberg_marquardt_step(
    state_map: StateMap,
    h: torch.Tensor,
    q: torch.Tensor,
    mu: torch.Tensor,
    chunk_size: int | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One damped Gauss-Newton step on ``r = F(h) - h`` for every row (shapes ``(n, S)``)."""
    with torch.no_grad():
        residual = state_map(h) - h
        a = jacobians(state_map, h, chunk_size=chunk_size)
        a = a - torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        normal = a.transpose(-1, -2) @ a
        normal = normal + mu[:, None, None] * torch.eye(h.shape[-1], dtype=h.dtype, device=h.device)
        rhs = (a.transpose(-1, -2) @ residual.unsqueeze(-1)).squeeze(-1)
        solution, info = torch.linalg.solve_ex(normal, rhs)
        solution = torch.where((info == 0).unsqueeze(-1), solution, torch.zeros_like(solution))
        candidate = h - torch.nan_to_num(solution, nan=0.0, posinf=0.0, neginf=0.0)
        candidate_q = speed(state_map, candidate)
        better = candidate_q < q
        h = torch.where(better.unsqueeze(-1), candidate, h)
        q = torch.where(better, candidate_q, q)
        mu = torch.where(better, mu * 0.1, mu * 10.0).clamp(1e-12, 1e12)
    return h, q, mu


def deduplicate(
    points: torch.Tensor, q: torch.Tensor, tol: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge points closer than ``tol`` (Euclidean), keeping the lowest-``q`` one of each group.

    Greedy: the remaining point with the lowest ``q`` absorbs every remaining point within
    ``tol`` of it; one vectorised distance computation per distinct point.

    Args:
        points: ``(m, S)``.
        q: ``(m,)``.
        tol: merge radius.

    Returns:
        ``(representatives (k,) indices into points, group (m,) representative number per point)``.
    """
    order = q.argsort()
    ordered = points[order]
    group_ordered = torch.full((points.shape[0],), -1, dtype=torch.long, device=points.device)
    representatives = []
    position = 0
    while position < ordered.shape[0]:  # one iteration (and one host sync) per distinct point
        close = (ordered - ordered[position]).norm(dim=-1) <= tol
        group_ordered[close & (group_ordered < 0)] = len(representatives)
        representatives.append(int(order[position]))
        unassigned = torch.nonzero(group_ordered < 0)
        position = int(unassigned[0]) if unassigned.numel() else ordered.shape[0]
    group = torch.empty_like(group_ordered)
    group[order] = group_ordered
    return torch.tensor(representatives, dtype=torch.long, device=points.device), group


def find_fixed_points(
    state_map: StateMap,
    initial_states: torch.Tensor,
    *,
    steps: int = 2000,
    lr: float = 1e-2,
    final_lr_fraction: float = 1e-3,
    q_threshold: float = 1e-8,
    dedupe_tol: float = 1e-3,
    unit_tol: float = 1e-3,
    tol: float = 1e-12,
    refine_steps: int = 8,
    chunk_size: int | None = 512,
) -> FixedPoints:
    """Find the distinct fixed points reached from ``initial_states`` and classify them.

    Args:
        state_map: ``F(h (n, S)) -> (n, S)``, e.g. :func:`~mbplan.analysis.core_map` or
            :func:`~mbplan.analysis.world_model.world_model_map`.
        initial_states: ``(n, S)`` starts (e.g. states visited on real data, plus noise).
        steps: maximum Adam steps (see :func:`minimise_speed`).
        lr: initial Adam step size.
        final_lr_fraction: the step decays to ``lr * final_lr_fraction``.
        tol: Adam stops once every row's ``q`` is below this.
        q_threshold: candidates with final ``q`` above this are dropped (raise it to keep slow
            points as well).
        dedupe_tol: candidates closer than this are one point.
        unit_tol: eigenvalue moduli within this of 1 count as marginal.
        refine_steps: Levenberg-Marquardt steps after Adam.
        chunk_size: rows per vectorised Jacobian chunk.

    Returns:
        :class:`FixedPoints`.
    """
    final, final_q = minimise_speed(
        state_map,
        initial_states,
        steps=steps,
        lr=lr,
        final_lr_fraction=final_lr_fraction,
        tol=tol,
        refine_steps=refine_steps,
        chunk_size=chunk_size,
    )
    kept = torch.nonzero(final_q <= q_threshold).squeeze(-1)
    representatives, group = deduplicate(final[kept], final_q[kept], dedupe_tol)
    assignment = torch.full_like(final_q, -1, dtype=torch.long)
    assignment[kept] = group
    points = final[kept][representatives]
    size = final.shape[-1]
    if points.shape[0] > 0:
        jac = jacobians(state_map, points, chunk_size=chunk_size)
        eig = eigenvalues(jac)
    else:
        jac = final.new_zeros((0, size, size))
        eig = torch.zeros((0, size), dtype=torch.complex64, device=final.device)
    counts = (
        torch.bincount(group, minlength=points.shape[0]) if kept.numel() else group.new_zeros(0)
    )
    return FixedPoints(
        points=points,
        q=final_q[kept][representatives],
        jacobians=jac,
        eigenvalues=eig,
        stability=classify_stability(eig, unit_tol),
        counts=counts,
        assignment=assignment,
        final_states=final,
        final_q=final_q,
    )
