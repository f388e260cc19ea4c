"""Input checks for the world models: one place that turns bad input into a clear ``ValueError``.

Every message names the argument, what was expected and what was received. Shape and dtype checks
read only tensor metadata (no device work); :func:`check_finite` costs one host synchronisation for
all the tensors it is given together, so callers use it once per call, never per time step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

#: A dimension of an expected shape: its label and its required size (``None`` accepts any size).
Dim = tuple[str, "int | None"]


def require_positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """Return ``value`` if it is a positive integer (or zero when allowed), else raise.

    Args:
        name: argument name used in the error message.
        value: the value to check.
        allow_zero: accept 0 as well.

    Returns:
        ``value`` as an ``int``.

    Raises:
        ValueError: if ``value`` is not an integer of the allowed range.
    """
    lowest = 0 if allow_zero else 1
    if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
        expected = "a non-negative integer" if allow_zero else "a positive integer"
        raise ValueError(f"{name}: expected {expected}, got {value!r}")
    return value


def check_tensor(name: str, value: object, dims: Sequence[Dim], dtype: torch.dtype) -> torch.Tensor:
    """Check that ``value`` is a tensor of the given rank, sizes and floating dtype.

    Args:
        name: argument name used in the error message.
        value: the object to check.
        dims: the expected shape as ``(label, size)`` pairs, e.g.
            ``(("batch", None), ("time", None), ("obs_dim", 2))``; size ``None`` accepts any size.
        dtype: the required floating dtype (the model's parameter dtype).

    Returns:
        ``value``, unchanged.

    Raises:
        ValueError: if ``value`` is not a tensor, has the wrong rank or sizes, or the wrong dtype.
    """
    expected = "(" + ", ".join(label if size is None else f"{label}={size}" for label, size in dims)
    expected += ")"
    if not isinstance(value, torch.Tensor):
        got = type(value).__name__
        raise ValueError(f"{name}: expected a tensor of shape {expected}, got {got}")
    if value.dim() != len(dims) or any(
        size is not None and size != got for (_, size), got in zip(dims, value.shape, strict=False)
    ):
        raise ValueError(f"{name}: expected shape {expected}, got {tuple(value.shape)}")
    if value.dtype != dtype:
        kind = "" if value.dtype.is_floating_point else " (not a floating dtype)"
        raise ValueError(
            f"{name}: expected dtype {dtype} (the model's parameter dtype), got {value.dtype}{kind}"
        )
    return value


def check_finite(tensors: Mapping[str, torch.Tensor]) -> None:
    """Raise if any of the named tensors holds NaN or infinity.

    All tensors are reduced on their device first, so the whole check costs one host
    synchronisation; the per-tensor search for the culprit runs only on failure.

    Args:
        tensors: argument name -> tensor.

    Raises:
        ValueError: naming the first argument that contains a non-finite value.
    """
    items = [(name, t) for name, t in tensors.items() if t.numel() > 0]
    if not items:
        return
    flags = torch.stack([~torch.isfinite(t).all() for _, t in items])
    if bool(flags.any()):
        for (name, t), bad in zip(items, flags.tolist(), strict=True):
            if bad:
                count = int((~torch.isfinite(t)).sum())
                raise ValueError(
                    f"{name}: expected finite values, got {count} NaN/inf entries "
                    f"in a tensor of shape {tuple(t.shape)}"
                )


def check_generator(name: str, generator: torch.Generator | None, device: torch.device) -> None:
    """Check that a random generator is given and lives on ``device``.

    Args:
        name: argument name used in the error message, with the reason it is needed.
        generator: the generator to check.
        device: the device the random numbers are drawn on.

    Raises:
        ValueError: if ``generator`` is ``None``, not a generator, or on another device type.
    """
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"{name}: expected a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != device.type:
        raise ValueError(
            f"{name}: expected a torch.Generator on device type '{device.type}', "
            f"got one on '{generator.device.type}'"
        )
