"""A dataset split held as stacked tensors: ``SequenceTensors``, and loading a split into one.

The paper-scale datasets are small (Shepherd, the largest, is about 40 MB as float32), so a split is
stacked once into ``(n_sequences, time, dim)`` tensors and batches are index lookups: no worker
processes and no per-item Python in the training loop. Used by training (batches, warmup, groups)
and evaluation alike; the seeded batch order lives in :mod:`mbplan.training.batches`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader, Dataset


@dataclasses.dataclass(frozen=True)
class SequenceTensors:
    """Sequences of one split, stacked.

    Attributes:
        observations: ``(n, T + 1, obs_dim)`` float32.
        actions: ``(n, T, action_dim)`` float32 (``action_dim`` may be 0).
        flags: ``(n, T + 1, n_flags)`` float32 hidden factors (``n_flags`` may be 0).
        subset: ``(n,)`` int64 subset index of every sequence.
        subset_names: name of each subset index.
        flag_names: name of each flag column.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    flags: torch.Tensor
    subset: torch.Tensor
    subset_names: tuple[str, ...] = ()
    flag_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        n = self.observations.shape[0]
        if self.observations.dim() != 3:
            raise ValueError(
                "observations: expected (n, T + 1, obs_dim), got shape "
                f"{tuple(self.observations.shape)}"
            )
        steps = self.observations.shape[1] - 1
        if self.actions.dim() != 3 or tuple(self.actions.shape[:2]) != (n, steps):
            raise ValueError(
                f"actions: expected ({n}, {steps}, action_dim), got {tuple(self.actions.shape)}"
            )
        if self.flags.dim() != 3 or tuple(self.flags.shape[:2]) != (n, steps + 1):
            raise ValueError(
                f"flags: expected ({n}, {steps + 1}, n_flags), got {tuple(self.flags.shape)}"
            )
        if tuple(self.subset.shape) != (n,):
            raise ValueError(f"subset: expected ({n},), got {tuple(self.subset.shape)}")

    def __len__(self) -> int:
        return int(self.observations.shape[0])

    @property
    def steps(self) -> int:
        """Number of transitions ``T`` per sequence."""
        return int(self.observations.shape[1]) - 1

    def select(self, index: torch.Tensor) -> SequenceTensors:
        """Return the sequences at ``index`` (``(m,)`` int64 or bool)."""
        return dataclasses.replace(
            self,
            observations=self.observations[index],
            actions=self.actions[index],
            flags=self.flags[index],
            subset=self.subset[index],
        )

    def truncate(self, steps: int) -> SequenceTensors:
        """Return the first ``steps`` transitions of every sequence.

        Raises:
            ValueError: if ``steps`` is not in ``[1, T]``.
        """
        if not 1 <= steps <= self.steps:
            raise ValueError(f"steps: expected a value in [1, {self.steps}], got {steps!r}")
        return dataclasses.replace(
            self,
            observations=self.observations[:, : steps + 1],
            actions=self.actions[:, :steps],
            flags=self.flags[:, : steps + 1],
        )

    def to(self, device: str | torch.device) -> SequenceTensors:
        """Return a copy on ``device``."""
        return dataclasses.replace(
            self,
            observations=self.observations.to(device),
            actions=self.actions.to(device),
            flags=self.flags.to(device),
            subset=self.subset.to(device),
        )


def stack_dataset(
    dataset: Dataset,
    subset_names: Sequence[str] = (),
    flag_names: Sequence[str] = (),
    batch_size: int = 1024,
) -> SequenceTensors:
    """Read every item of a ``SequenceDataset``-like dataset into one ``SequenceTensors``.

    Args:
        dataset: items are dicts with ``observations (T+1, obs_dim)``, ``actions (T, action_dim)``,
            ``flags (T+1, n_flags)`` and ``subset`` (int), all items of one length.
        subset_names: names of the subset indices (default: the indices as strings).
        flag_names: names of the flag columns.
        batch_size: items read per collated chunk.

    Raises:
        ValueError: for an empty dataset.
    """
    if len(dataset) == 0:  # type: ignore[arg-type]
        raise ValueError("dataset: expected at least one sequence, got an empty dataset")
    parts: dict[str, list[torch.Tensor]] = {
        "observations": [],
        "actions": [],
        "flags": [],
        "subset": [],
    }
    for chunk in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        for key, values in parts.items():
            values.append(torch.as_tensor(chunk[key]))
    stacked = {key: torch.cat(values) for key, values in parts.items()}
    n_subsets = int(stacked["subset"].max()) + 1
    names = tuple(subset_names) or tuple(str(index) for index in range(n_subsets))
    return SequenceTensors(
        observations=stacked["observations"].float(),
        actions=stacked["actions"].float(),
        flags=stacked["flags"].float(),
        subset=stacked["subset"].long(),
        subset_names=names,
        flag_names=tuple(flag_names),
    )


def load_split(
    root: str,
    split: str | None,
    subsets: Sequence[str] | None = None,
    window: str | None = None,
) -> SequenceTensors:
    """Load one split of a dataset directory as ``SequenceTensors``.

    Args:
        root: dataset directory written by ``mbplan generate``.
        split: split name (``train``, ``val``, ``test``, ...); ``None`` for all sequences.
        subsets: subsets to keep (default: all).
        window: ``"recipe"`` for the recipe's windows (each window start is its own subset,
            ``"<label>@<start>"``), ``None`` for whole episodes.
    """
    from mbplan.data import SequenceDataset

    dataset = SequenceDataset(root, subsets=subsets, split=split, window=window)
    return stack_dataset(dataset, subset_names=dataset.subset_labels, flag_names=dataset.flag_names)
