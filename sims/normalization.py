"""Affine maps between world positions and observation coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PositionNormalization:
    """``obs = (world - offset) / scale`` per axis, and back.

    The maps work on numpy arrays of shape ``(..., 2)``. Code that works on other array types
    (e.g. torch tensors in a planner's cost) can use ``offset`` and ``scale`` directly.

    Attributes:
        offset: world point mapped to the observation origin, ``(x, y)`` in world units.
        scale: world units per observation unit, ``(x, y)``.
    """

    offset: tuple[float, float]
    scale: tuple[float, float]

    def world_to_obs(self, xy: np.ndarray) -> np.ndarray:
        """Map world positions ``(..., 2)`` to observation coordinates ``(..., 2)``."""
        return (np.asarray(xy, dtype=np.float64) - self.offset) / self.scale

    def obs_to_world(self, obs_xy: np.ndarray) -> np.ndarray:
        """Map observation coordinates ``(..., 2)`` back to world positions ``(..., 2)``."""
        return np.asarray(obs_xy, dtype=np.float64) * self.scale + self.offset
