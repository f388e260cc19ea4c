"""PCA projections of recurrent states (trajectories, clouds, fixed points in one frame).

``fit_pca(states)`` centres and takes the SVD of any ``(..., S)`` tensor of states (flattened over
the leading dimensions); ``PCA.project`` maps any other states (a trajectory ``(n, T, S)``, fixed
points ``(k, S)``) into the same components, so they can be drawn together.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from mbplan.models.validation import check_finite, require_positive_int


class PCA(NamedTuple):
    """A fitted principal-component basis.

    Attributes:
        mean: ``(S,)``.
        components: ``(k, S)`` orthonormal rows, by decreasing variance.
        explained_variance_ratio: ``(k,)``.
    """

    mean: torch.Tensor
    components: torch.Tensor
    explained_variance_ratio: torch.Tensor

    def project(self, states: torch.Tensor) -> torch.Tensor:
        """``(..., S) -> (..., k)``."""
        return (states - self.mean) @ self.components.T


def fit_pca(states: torch.Tensor, components: int = 3) -> PCA:
    """PCA of states ``(..., S)`` (all leading dimensions are samples).

    Args:
        states: at least two samples.
        components: ``k <= S``.

    Returns:
        The :class:`PCA`.

    Raises:
        ValueError: for a bad shape or component count, or states holding NaN or infinity
            (e.g. a trajectory that diverged).
    """
    require_positive_int("components", components)
    if not isinstance(states, torch.Tensor) or states.dim() < 2:
        raise ValueError("states: expected a tensor of shape (..., state_size)")
    flat = states.detach().reshape(-1, states.shape[-1])
    if flat.shape[0] < 2 or components > flat.shape[1]:
        raise ValueError(
            f"states, components: need >= 2 samples and components <= {flat.shape[1]}, got "
            f"{flat.shape[0]} samples and {components} components"
        )
    check_finite({"states": flat})
    mean = flat.mean(0)
    _, singular, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    variance = singular.pow(2)
    return PCA(mean, vh[:components], variance[:components] / variance.sum().clamp(min=1e-30))
