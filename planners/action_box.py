"""The box of admissible actions that every sampling planner clips to."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

ArrayLike = torch.Tensor | np.ndarray | Sequence[float]


def _as_vector(
    value: ArrayLike, name: str, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    try:
        tensor = torch.as_tensor(value, dtype=dtype, device=device).detach().clone()
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{name} must be a 1-D array of floats, got {value!r}") from err
    if tensor.ndim != 1 or tensor.numel() == 0:
        raise ValueError(
            f"{name} must have shape (action_dim,) with action_dim >= 1, "
            f"got shape {tuple(tensor.shape)}"
        )
    if not bool(torch.isfinite(tensor).all()):
        raise ValueError(f"{name} must be finite, got {tensor.tolist()}")
    return tensor


class ActionBox:
    """Per-dimension action bounds ``low <= a <= high``.

    The bounds are copied on construction, so the caller's arrays are never aliased or mutated.

    Args:
        low: lower bounds, shape ``(action_dim,)``.
        high: upper bounds, shape ``(action_dim,)``; ``high >= low`` element-wise.
        device: device of the stored bounds; defaults to the device of ``low`` when it is a tensor,
            else the CPU.
        dtype: floating dtype of the stored bounds; defaults to the dtype of ``low`` when it is a
            floating tensor, else ``torch.float32``.

    Raises:
        ValueError: if a bound is not 1-D, empty, non-finite, the shapes differ, or ``low > high``.
    """

    def __init__(
        self,
        low: ArrayLike,
        high: ArrayLike,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if device is None:
            device = low.device if isinstance(low, torch.Tensor) else torch.device("cpu")
        if dtype is None:
            is_float = isinstance(low, torch.Tensor) and low.is_floating_point()
            dtype = low.dtype if is_float else torch.float32
        if not dtype.is_floating_point:
            raise ValueError(f"dtype must be a floating dtype, got {dtype}")
        device = torch.device(device)
        self.low = _as_vector(low, "action_low", device, dtype)
        self.high = _as_vector(high, "action_high", device, dtype)
        if self.low.shape != self.high.shape:
            raise ValueError(
                "action_low and action_high must have the same shape (action_dim,), got "
                f"{tuple(self.low.shape)} and {tuple(self.high.shape)}"
            )
        if bool((self.low > self.high).any()):
            raise ValueError(
                f"action_low must be <= action_high, got low={self.low.tolist()} "
                f"high={self.high.tolist()}"
            )

    @property
    def dim(self) -> int:
        """Number of action dimensions ``A``."""
        return int(self.low.numel())

    @property
    def device(self) -> torch.device:
        """Device of the bounds."""
        return self.low.device

    @property
    def dtype(self) -> torch.dtype:
        """Floating dtype of the bounds."""
        return self.low.dtype

    @property
    def middle(self) -> torch.Tensor:
        """Midpoint ``(low + high) / 2``, shape ``(action_dim,)``."""
        return (self.low + self.high) / 2

    @property
    def half_range(self) -> torch.Tensor:
        """Half the width ``(high - low) / 2``, shape ``(action_dim,)``."""
        return (self.high - self.low) / 2

    def clip(self, actions: torch.Tensor) -> torch.Tensor:
        """Clip actions to the box.

        Args:
            actions: ``(..., action_dim)``.

        Returns:
            A new tensor of the same shape with every entry inside ``[low, high]``.
        """
        return torch.clamp(actions, self.low, self.high)

    def check_inside(self, actions: torch.Tensor, name: str) -> None:
        """Raise unless every action lies in the box.

        An action outside it would be executed clipped by an env but seen unclipped by a model.

        Args:
            actions: ``(..., action_dim)``.
            name: the argument's name, for the message.

        Raises:
            ValueError: naming ``name``, the values and the bounds.
        """
        actions = torch.as_tensor(actions, device=self.device, dtype=self.dtype)
        if bool(((actions < self.low) | (actions > self.high)).any()):
            raise ValueError(
                f"{name} must lie in the action box low={self.low.tolist()} "
                f"high={self.high.tolist()}, got {actions.tolist()}"
            )
