"""Load a generated dataset as a ``torch.utils.data.Dataset`` of ``(time, dim)`` float32 tensors.

Items are dicts ``{"observations": (T+1, obs_dim), "actions": (T, action_dim),
"flags": (T+1, n_flags), "subset": int}``; the default collate stacks them to
``(batch, time, dim)``. Splits are those the manifest names (seeded random parts as
``torch.utils.data.random_split`` draws them, or row ranges); windows cut fixed-length pieces out
of every selected episode and turn each (subset, start) pair into a subset of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mbplan.data.errors import IncompleteDatasetError
from mbplan.data.io import MANIFEST_NAME, load_subset_arrays, read_manifest, subset_record
from mbplan.data.spec import RandomSplit, RangeSplit, Split, Windows, split_from_dict


def split_indices(split: Split, count: int) -> dict[str, np.ndarray]:
    """Return the episode indices of each part of ``split`` over ``count`` episodes.

    Random splits reproduce ``torch.utils.data.random_split(range(count), sizes,
    generator=torch.Generator().manual_seed(seed))``: one ``randperm`` cut into consecutive parts.

    Args:
        split: the subset's split.
        count: episodes in the subset.

    Returns:
        Split name -> int64 indices (disjoint).
    """
    if isinstance(split, RandomSplit):
        generator = torch.Generator().manual_seed(split.seed)
        order = torch.randperm(count, generator=generator).numpy()
        parts, offset = {}, 0
        for name, size in split.sizes:
            parts[name] = order[offset : offset + size]
            offset += size
        return parts
    if isinstance(split, RangeSplit):
        return {name: np.arange(start, stop) for name, start, stop in split.ranges}
    raise TypeError(f"split: expected RandomSplit or RangeSplit, got {type(split).__name__}")


class SequenceDataset(Dataset):
    """Episodes (or windows of them) of a generated dataset.

    Args:
        root: the dataset directory (holding ``manifest.json``).
        subsets: subset labels to load; all when None.
        split: a split name of the manifest (``"train"``, ``"val"``, ``"test"``, ...); all
            episodes when None. Subsets without that split contribute nothing.
        window: None for whole episodes; ``"recipe"`` for the windows the recipe defines (the
            paper's Billiard Ball windows); or a :class:`~mbplan.data.spec.Windows`.
        verify: check every shard's SHA-256.

    Attributes:
        manifest: the manifest dict.
        subset_labels: label of each item subset index (``"<label>@<start>"`` with windows).
        item_subsets: ``(len(self),)`` int64 subset index of every item.
        obs_dim, action_dim, flag_names: as in the manifest.

    Raises:
        ManifestError, IncompleteDatasetError, MissingShardError, TruncatedShardError,
        ChecksumMismatchError, ShardLayoutError, NonFiniteValueError: the directory is unusable;
            the error names the file and the problem.
        ValueError: an unknown subset, split or window.
    """

    def __init__(
        self,
        root: str | Path,
        subsets: Sequence[str] | None = None,
        split: str | None = None,
        window: str | Windows | None = None,
        *,
        verify: bool = True,
    ) -> None:
        self.root = Path(root)
        self.manifest = read_manifest(self.root)
        if not self.manifest["complete"]:
            raise IncompleteDatasetError(
                self.root / MANIFEST_NAME,
                "generation has not finished; run the same generate command again to resume",
            )
        self.obs_dim = int(self.manifest["obs_dim"])
        self.action_dim = int(self.manifest["action_dim"])
        self.flag_names = tuple(self.manifest["flag_names"])
        labels = self._select_subsets(subsets)
        windows = self._resolve_windows(window, labels)
        self._check_split(split, labels)

        observations, actions, flags = [], [], []
        self.subset_labels: list[str] = []
        items: list[tuple[int, int, int]] = []  # (episode row, start, item subset)
        row_offset = 0
        for label in labels:
            record = subset_record(self.manifest, label)
            parts = split_indices(split_from_dict(record["split"]), int(record["count"]))
            rows = np.arange(int(record["count"])) if split is None else parts.get(split)
            if rows is None or len(rows) == 0:
                continue
            arrays = load_subset_arrays(self.root, self.manifest, label, verify=verify)
            observations.append(arrays["observations"][rows])
            actions.append(arrays["actions"][rows])
            flags.append(arrays["flags"][rows])
            starts = (None,) if windows is None else windows.starts.get(label, ())
            for start in starts:
                self.subset_labels.append(label if start is None else f"{label}@{start}")
                index = len(self.subset_labels) - 1
                items.extend((row_offset + r, start or 0, index) for r in range(len(rows)))
            row_offset += len(rows)
        if not items:
            raise ValueError(f"split: no episodes of subsets {labels} in split {split!r}")
        self._observations = torch.from_numpy(np.concatenate(observations))
        self._actions = torch.from_numpy(np.concatenate(actions))
        self._flags = torch.from_numpy(np.concatenate(flags))
        table = torch.tensor(items, dtype=torch.int64)
        self._rows, self._starts, self.item_subsets = table[:, 0], table[:, 1], table[:, 2]
        self.length = int(self.manifest["steps"]) if windows is None else windows.length

    def _select_subsets(self, subsets: Sequence[str] | None) -> list[str]:
        available = [s["label"] for s in self.manifest["subsets"]]
        if subsets is None:
            return available
        if isinstance(subsets, str):
            raise ValueError(f"subsets: expected a list of labels, got the string {subsets!r}")
        unknown = [label for label in subsets if label not in available]
        if unknown:
            raise ValueError(f"subsets: unknown {unknown}; this dataset has {available}")
        return list(subsets)

    def _resolve_windows(self, window: str | Windows | None, labels: list[str]) -> Windows | None:
        if window is None or isinstance(window, Windows):
            resolved = window
        elif window == "recipe":
            if self.manifest.get("windows") is None:
                raise ValueError(f"window: the dataset in {self.root} defines no recipe windows")
            resolved = Windows.from_dict(self.manifest["windows"])
        else:
            raise ValueError(f"window: expected None, 'recipe' or a Windows, got {window!r}")
        if resolved is not None:
            steps = int(self.manifest["steps"])
            for label in labels:
                for start in resolved.starts.get(label, ()):
                    if start + resolved.length > steps:
                        raise ValueError(
                            f"window: start {start} + length {resolved.length} of {label!r} "
                            f"exceeds the {steps} stored steps"
                        )
        return resolved

    def _check_split(self, split: str | None, labels: list[str]) -> None:
        if split is None:
            return
        names: set[str] = set()
        for label in labels:
            record = subset_record(self.manifest, label)
            names.update(split_indices(split_from_dict(record["split"]), int(record["count"])))
        if split not in names:
            raise ValueError(f"split: expected one of {sorted(names)} for {labels}, got {split!r}")

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    def __getitem__(self, index: int) -> dict[str, Any]:
        """Return item ``index`` as a dict of float32 tensors plus its subset index.

        Returns:
            ``observations (L+1, obs_dim)``, ``actions (L, action_dim)``, ``flags (L+1, n_flags)``
            and ``subset`` (int), with L the episode or window length.
        """
        row, start = int(self._rows[index]), int(self._starts[index])
        stop = start + self.length
        return {
            "observations": self._observations[row, start : stop + 1],
            "actions": self._actions[row, start:stop],
            "flags": self._flags[row, start : stop + 1],
            "subset": int(self.item_subsets[index]),
        }

    def subset_items(self) -> dict[str, torch.Tensor]:
        """Return, per item subset label, the indices of its items (for balanced batches)."""
        return {
            label: torch.nonzero(self.item_subsets == k).flatten()
            for k, label in enumerate(self.subset_labels)
        }
