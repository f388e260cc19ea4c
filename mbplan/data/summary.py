"""Per-dimension value ranges of a dataset's arrays, streamed shard by shard."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mbplan.data.io import ARRAY_NAMES, load_shard_array


@dataclass(frozen=True)
class ArrayStats:
    """Statistics of one array over all episodes and time steps.

    Attributes:
        minimum: ``(dim,)`` smallest value per dimension (NaN if there are no values).
        maximum: ``(dim,)`` largest value per dimension.
        mean: ``(dim,)`` mean per dimension (for flags: the fraction of time steps set).
        episodes: episodes covered.
    """

    minimum: np.ndarray
    maximum: np.ndarray
    mean: np.ndarray
    episodes: int


def array_statistics(
    root: str | Path, manifest: Mapping[str, Any], *, verify: bool = True
) -> dict[str, ArrayStats]:
    """Return :class:`ArrayStats` of observations, actions and flags over every written shard.

    Args:
        root: the dataset directory.
        manifest: its manifest (complete or not: only the listed shards are read).
        verify: check SHA-256 checksums while reading.

    Raises:
        DatasetError: a listed shard is missing or corrupt.
    """
    stats = {}
    for name in ARRAY_NAMES:
        layout = manifest["arrays"][name]
        dim = int(layout["shape"][-1])
        low, high, total = np.full(dim, np.inf), np.full(dim, -np.inf), np.zeros(dim)
        values = episodes = 0
        for subset in manifest["subsets"]:
            for shard in subset["shards"]:
                array = load_shard_array(
                    root,
                    shard["files"][name],
                    dtype=layout["dtype"],
                    shape=(shard["episodes"], *layout["shape"]),
                    verify=verify,
                ).reshape(int(shard["episodes"]) * int(layout["shape"][0]), dim)
                if array.shape[0]:
                    low = np.minimum(low, array.min(axis=0))
                    high = np.maximum(high, array.max(axis=0))
                    total += array.sum(axis=0, dtype=np.float64)
                values += array.shape[0]
                episodes += int(shard["episodes"])
        empty = np.full(dim, np.nan)
        stats[name] = ArrayStats(
            minimum=low if values else empty,
            maximum=high if values else empty,
            mean=total / values if values else empty,
            episodes=episodes,
        )
    return stats
