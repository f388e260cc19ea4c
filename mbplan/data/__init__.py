"""Dataset generation and loading (see ``docs/architecture.md``, "Datasets").

Generation (:func:`generate`, recipes, policies) needs numpy, gymnasium and the envs only;
:class:`SequenceDataset` needs torch and is imported on first use, so generation workers and
``mbplan generate`` do not pay for importing torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mbplan.data.errors import (
    ChecksumMismatchError,
    DatasetError,
    DatasetExistsError,
    IncompleteDatasetError,
    ManifestError,
    MissingShardError,
    NonFiniteValueError,
    ShardLayoutError,
    TruncatedShardError,
)
from mbplan.data.generate import GenerationReport, SubsetReport, generate
from mbplan.data.policies import POLICIES, Policy, make_policy
from mbplan.data.recipes import RECIPES, generic_spec, make_recipe
from mbplan.data.spec import DatasetSpec, PolicySpec, RandomSplit, RangeSplit, SubsetSpec, Windows

if TYPE_CHECKING:
    from mbplan.data.dataset import SequenceDataset

__all__ = [
    "POLICIES",
    "RECIPES",
    "ChecksumMismatchError",
    "DatasetError",
    "DatasetExistsError",
    "DatasetSpec",
    "GenerationReport",
    "IncompleteDatasetError",
    "ManifestError",
    "MissingShardError",
    "NonFiniteValueError",
    "Policy",
    "PolicySpec",
    "RandomSplit",
    "RangeSplit",
    "SequenceDataset",
    "ShardLayoutError",
    "SubsetReport",
    "SubsetSpec",
    "TruncatedShardError",
    "Windows",
    "generate",
    "generic_spec",
    "make_policy",
    "make_recipe",
]


def __getattr__(name: str) -> Any:
    if name == "SequenceDataset":
        from mbplan.data.dataset import SequenceDataset

        return SequenceDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
