"""Checkpoints: atomic writes, safe loads, and the model rebuilt from a checkpoint.

A checkpoint is a dict of tensors and plain Python types, so ``torch.load(..., weights_only=True)``
reads it without unpickling arbitrary objects::

    {"model": state_dict, "model_hparams": dict, "optimizer": state_dict, "epoch": int,
     "batch": int, "updates": int, "rng": {name: ByteTensor}, "best": dict, "config": dict}

``epoch`` counts completed epochs and ``batch`` the batches already done in epoch ``epoch`` (0 at an
epoch boundary). The best-validation file holds the same keys except ``optimizer`` and ``rng``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

#: keys every checkpoint holds.
REQUIRED_KEYS = ("model", "model_hparams", "epoch", "config")


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (temporary file in the same folder, then rename).

    Args:
        path: destination file; its folder must exist.
        payload: tensors and plain types only (dicts, lists, str, int, float, bool, None).

    Returns:
        The destination path.

    Raises:
        ValueError: if ``payload`` lacks one of ``REQUIRED_KEYS``.
    """
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"payload: expected keys {list(REQUIRED_KEYS)}, missing {missing}")
    from mbplan.data.io import atomic_output

    with atomic_output(path) as stream:
        torch.save(payload, stream)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True`` and check its keys.

    Args:
        path: checkpoint file.
        map_location: device the tensors are loaded onto.

    Returns:
        The checkpoint dict.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the file is not a readable checkpoint or lacks a required key; the message
            names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # corrupt, truncated or unsafe content
        raise ValueError(f"checkpoint {path} could not be read: {err}") from err
    if not isinstance(payload, dict):
        raise ValueError(f"checkpoint {path}: expected a dict, got {type(payload).__name__}")
    missing = [key for key in REQUIRED_KEYS if key not in payload]
    if missing:
        raise ValueError(f"checkpoint {path}: missing keys {missing}")
    return payload


def model_from_checkpoint(
    payload: dict[str, Any], device: str | torch.device = "cpu"
) -> torch.nn.Module:
    """Rebuild the world model stored in a checkpoint, in eval mode.

    Args:
        payload: a dict returned by ``load_checkpoint``.
        device: device of the returned model.

    Returns:
        ``make_world_model(**payload["model_hparams"])`` with the saved weights loaded.
    """
    from mbplan.models import make_world_model

    model = make_world_model(**payload["model_hparams"])
    model.load_state_dict(payload["model"])
    return model.to(device).eval()
