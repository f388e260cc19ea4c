"""Plain cross-entropy method (CEM-MPC): iCEM with its improvements switched off.

:class:`CEM` runs the same sample / rank / refit loop as :class:`~planners.icem.ICEM` with white
noise, a constant population, no elites kept between iterations or shifted between MPC steps, and
no mean injected as a sample. What remains is the iCEM paper's CEM-MPC baseline: a diagonal
Gaussian per step, warm-started by shifting the mean, std reset every step, momentum ``alpha``.

Deviation from the PETS-style CEM (``MpcCemStd`` in the iCEM repository, mbrl-lib's
``CEMOptimizer``): samples are clipped to the box rather than drawn from a truncated normal, so
that CEM and iCEM differ only in the improvements; and the executed plan is the best sequence seen,
not the final mean.
"""

from __future__ import annotations

import torch

from planners.action_box import ArrayLike
from planners.icem import ICEM


class CEM(ICEM):
    """CEM with white Gaussian samples clipped to the action box.

    Args:
        action_low: lower action bounds, shape ``(action_dim,)``.
        action_high: upper action bounds, shape ``(action_dim,)``.
        horizon: planning horizon ``H`` (30).
        population: sequences per iteration (40).
        iterations: optimisation iterations per MPC step (3).
        elites: number of elites (10).
        alpha: momentum on the old mean and std (0.1).
        init_std: initial std relative to the half range of the box (0.5).
        generator: source of all randomness, on the planner's device.
        device: device of the planner.
        dtype: floating dtype of the actions.
        fixed_shape: preallocated buffers and no host sync per step (see :class:`ICEM`).
    """

    def __init__(
        self,
        action_low: ArrayLike,
        action_high: ArrayLike,
        horizon: int = 30,
        *,
        population: int = 40,
        iterations: int = 3,
        elites: int = 10,
        alpha: float = 0.1,
        init_std: float = 0.5,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        fixed_shape: bool = False,
    ) -> None:
        super().__init__(
            action_low,
            action_high,
            horizon,
            population=population,
            iterations=iterations,
            elites=elites,
            alpha=alpha,
            init_std=init_std,
            noise_beta=0.0,
            population_decay=1.0,
            elite_reuse_fraction=0.0,
            keep_previous_elites=False,
            shift_elites=False,
            mean_as_sample=False,
            generator=generator,
            device=device,
            dtype=dtype,
            fixed_shape=fixed_shape,
        )
