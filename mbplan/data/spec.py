"""What a dataset is: the env, the subsets with their policy and filters, the splits and windows.

A :class:`DatasetSpec` fully determines a dataset's bytes (together with the software versions):
generation reads it, the manifest stores it (:meth:`DatasetSpec.to_dict`), and resuming compares
it. Recipes (:mod:`mbplan.data.recipes`) and the generic ``--env/--policy`` form both build one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mbplan.data.filters import Filter, filter_from_dict

_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class PolicySpec:
    """A policy by name with its constructor parameters (see :mod:`mbplan.data.policies`)."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"name": ..., "params": {...}}``."""
        return {"name": self.name, "params": dict(self.params)}


@dataclass(frozen=True)
class RandomSplit:
    """Seeded random split of a subset's episodes, like ``torch.utils.data.random_split``.

    The episodes are permuted with ``torch.randperm(count, generator=torch.Generator()
    .manual_seed(seed))`` and cut into consecutive parts of the given sizes, in order.

    Args:
        sizes: ``((split name, size), ...)``; the sizes sum to the subset's count.
        seed: the permutation seed (42 in the reference).
    """

    sizes: tuple[tuple[str, int], ...]
    seed: int = 42

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"kind": "random", "sizes": [[n, s] for n, s in self.sizes], "seed": self.seed}

    def total(self) -> int:
        """Return the number of episodes the split covers."""
        return sum(size for _, size in self.sizes)


@dataclass(frozen=True)
class RangeSplit:
    """Split by row ranges in generation order (the reference's RRC splits).

    Args:
        ranges: ``((split name, start, stop), ...)``, half-open row ranges; rows in no range are
            generated but unused, as in the reference.
    """

    ranges: tuple[tuple[str, int, int], ...]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"kind": "ranges", "ranges": [[n, a, b] for n, a, b in self.ranges]}

    def total(self) -> int:
        """Return the number of rows the ranges need (the largest stop)."""
        return max((stop for _, _, stop in self.ranges), default=0)


Split = RandomSplit | RangeSplit


def split_from_dict(data: Mapping[str, Any]) -> Split:
    """Rebuild a split from its JSON form.

    Raises:
        ValueError: unknown kind.
    """
    if data.get("kind") == "random":
        return RandomSplit(tuple((str(n), int(s)) for n, s in data["sizes"]), int(data["seed"]))
    if data.get("kind") == "ranges":
        return RangeSplit(tuple((str(n), int(a), int(b)) for n, a, b in data["ranges"]))
    raise ValueError(f"split kind: expected 'random' or 'ranges', got {data.get('kind')!r}")


@dataclass(frozen=True)
class SubsetSpec:
    """One subset: ``count`` accepted episodes of a policy, filtered by conditions.

    Args:
        label: folder-safe name, unique in the dataset (also keys the episodes' seeds).
        count: number of accepted episodes.
        policy: the data-collection policy.
        split: how the subset's episodes divide into train/val/test.
        filters: conditions every kept episode satisfies.
        reset_options: passed as ``env.reset(options=...)`` (e.g. Shepherd ``{"start": "left"}``).
    """

    label: str
    count: int
    policy: PolicySpec
    split: Split
    filters: tuple[Filter, ...] = ()
    reset_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _LABEL.match(self.label):
            raise ValueError(f"label: expected letters, digits, '_', '.', '-', got {self.label!r}")
        if self.count < 1:
            raise ValueError(f"count: expected >= 1 episodes, got {self.count} for {self.label!r}")
        if self.split.total() > self.count:
            raise ValueError(
                f"split of {self.label!r}: needs {self.split.total()} episodes, count {self.count}"
            )
        if isinstance(self.split, RandomSplit) and self.split.total() != self.count:
            raise ValueError(
                f"split of {self.label!r}: random split sizes sum to {self.split.total()}, "
                f"expected the count {self.count}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form (without generation results)."""
        return {
            "label": self.label,
            "count": self.count,
            "policy": self.policy.to_dict(),
            "filters": [f.to_dict() for f in self.filters],
            "reset_options": dict(self.reset_options),
            "split": self.split.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SubsetSpec:
        """Rebuild from :meth:`to_dict` output (extra keys are ignored)."""
        return cls(
            label=data["label"],
            count=int(data["count"]),
            policy=PolicySpec(data["policy"]["name"], dict(data["policy"]["params"])),
            split=split_from_dict(data["split"]),
            filters=tuple(filter_from_dict(f) for f in data["filters"]),
            reset_options=dict(data["reset_options"]),
        )


@dataclass(frozen=True)
class Windows:
    """Fixed-length windows cut from the stored episodes at given start steps.

    A window of ``length`` transitions starting at step s holds ``observations[s : s+length+1]``,
    ``actions[s : s+length]`` and ``flags[s : s+length+1]``. Each (subset, start) pair becomes its
    own subset of the windowed dataset, labelled ``"<subset>@<start>"``.

    Args:
        length: transitions per window.
        starts: start steps per subset label; subsets not listed are left out.
    """

    length: int
    starts: Mapping[str, tuple[int, ...]]

    def __post_init__(self) -> None:
        if self.length < 1:
            raise ValueError(f"length: expected >= 1 transitions, got {self.length}")
        for label, starts in self.starts.items():
            if any(s < 0 for s in starts):
                raise ValueError(f"starts of {label!r}: expected steps >= 0, got {starts}")

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {"length": self.length, "starts": {k: list(v) for k, v in self.starts.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Windows:
        """Rebuild from :meth:`to_dict` output."""
        starts = {str(k): tuple(int(s) for s in v) for k, v in data["starts"].items()}
        return cls(int(data["length"]), starts)


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines a dataset's contents.

    Args:
        env_id: gymnasium id (``mbplan/...``, or ``module:id`` to import ``module`` first).
        steps: transitions per episode T (observations and flags hold T+1 rows).
        seed: the dataset seed; episode seeds derive from (seed, subset label, episode index).
        subsets: the subsets, generated in this order.
        env_kwargs: keyword arguments of ``gym.make``.
        windows: the recipe's default windows for loading (see :class:`Windows`), or None.
        recipe: the recipe name, or None for the generic form.
        scale: the recipe's scale factor (1.0 = the paper's counts).
    """

    env_id: str
    steps: int
    seed: int
    subsets: tuple[SubsetSpec, ...]
    env_kwargs: Mapping[str, Any] = field(default_factory=dict)
    windows: Windows | None = None
    recipe: str | None = None
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"steps: expected an episode length >= 1, got {self.steps}")
        if self.seed < 0:
            raise ValueError(f"seed: expected a non-negative integer, got {self.seed}")
        if not self.subsets:
            raise ValueError("subsets: expected at least one subset, got none")
        labels = [s.label for s in self.subsets]
        if len(set(labels)) != len(labels):
            raise ValueError(f"subsets: labels must be unique, got {labels}")
        for subset in self.subsets:
            for condition in subset.filters:
                if condition.latest_step() > self.steps:
                    raise ValueError(
                        f"filters of {subset.label!r}: {condition.describe()} looks at step "
                        f"{condition.latest_step()} but episodes have {self.steps} steps"
                    )
        if self.windows is not None:
            unknown = set(self.windows.starts) - set(labels)
            if unknown:
                raise ValueError(f"windows: unknown subsets {sorted(unknown)}; have {labels}")
            for label, starts in self.windows.starts.items():
                if any(s + self.windows.length > self.steps for s in starts):
                    raise ValueError(
                        f"windows of {label!r}: starts {starts} + length {self.windows.length} "
                        f"exceed the {self.steps} steps"
                    )

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form stored in the manifest."""
        return {
            "recipe": self.recipe,
            "scale": self.scale,
            "env": {"id": self.env_id, "kwargs": dict(self.env_kwargs)},
            "seed": self.seed,
            "steps": self.steps,
            "subsets": [s.to_dict() for s in self.subsets],
            "windows": None if self.windows is None else self.windows.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DatasetSpec:
        """Rebuild from a manifest (generation results are ignored)."""
        return cls(
            env_id=data["env"]["id"],
            env_kwargs=dict(data["env"]["kwargs"]),
            steps=int(data["steps"]),
            seed=int(data["seed"]),
            subsets=tuple(SubsetSpec.from_dict(s) for s in data["subsets"]),
            windows=None if data.get("windows") is None else Windows.from_dict(data["windows"]),
            recipe=data.get("recipe"),
            scale=float(data.get("scale", 1.0)),
        )
