"""Errors raised when a dataset directory is missing, incomplete, corrupt or mismatched.

Every error names the file and the problem, so a user can tell a truncated download from a bit flip
from a generator that wrote NaN. All subclass :class:`DatasetError`, itself a :class:`ValueError`.
"""

from __future__ import annotations

from pathlib import Path


class DatasetError(ValueError):
    """A dataset file is unusable.

    Attributes:
        path: the offending file (or directory).
        problem: what is wrong with it, in words.
    """

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ManifestError(DatasetError):
    """The manifest is missing, unreadable, of another schema, or holds another dataset."""


class IncompleteDatasetError(DatasetError):
    """Generation has not finished (run the same command again to resume)."""


class MissingShardError(DatasetError):
    """A shard listed in the manifest does not exist."""


class TruncatedShardError(DatasetError):
    """A shard is shorter (or longer) than its header says."""


class ChecksumMismatchError(DatasetError):
    """A shard's bytes do not match the SHA-256 recorded in the manifest."""


class ShardLayoutError(DatasetError):
    """A shard's dtype or shape differs from what the manifest promises."""


class NonFiniteValueError(DatasetError):
    """A shard holds NaN or infinite values."""


class DatasetExistsError(DatasetError):
    """The output directory holds another dataset or other files (pass ``overwrite``)."""
