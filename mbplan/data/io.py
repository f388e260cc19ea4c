"""Dataset files on disk: atomic writes, the JSON manifest, ``.npy`` shards and their checksums.

A dataset directory holds ``manifest.json`` and, per subset, one folder of shards::

    DIR/manifest.json
    DIR/<subset>/observations-00000.npy   (episodes, T+1, obs_dim)  float32
    DIR/<subset>/actions-00000.npy        (episodes, T, action_dim) float32
    DIR/<subset>/flags-00000.npy          (episodes, T+1, n_flags)  float32

Shards are plain ``.npy`` files (format 1.0, C order, never pickled), so their bytes depend only on
their contents and they can be memory-mapped by other tools. Every file is written to a temporary
name in the same folder and renamed into place, so a crash leaves either the old file or the new
one, never half of one; the manifest is rewritten (atomically) after each completed shard and lists
every shard with its SHA-256, so a loader accepts nothing that generation did not finish.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from mbplan.data.errors import (
    ChecksumMismatchError,
    DatasetError,
    ManifestError,
    MissingShardError,
    NonFiniteValueError,
    ShardLayoutError,
    TruncatedShardError,
)

MANIFEST_NAME = "manifest.json"
#: Bumped whenever the manifest or shard layout changes incompatibly.
SCHEMA_VERSION = 1
#: The arrays stored per episode, in this order.
ARRAY_NAMES: tuple[str, ...] = ("observations", "actions", "flags")
#: Prefix and suffix of the temporary files of :func:`atomic_write_bytes`.
TEMP_PREFIX = "."
TEMP_SUFFIX = ".tmp"


def new_file_mode() -> int:
    """Permission bits a new file gets under the user's umask (``0o666 & ~umask``).

    ``tempfile.mkstemp`` creates files with mode 0600 whatever the umask; atomic writes set this
    mode on their temporary file so that datasets, runs and figures are as readable as any other
    file the user writes.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[BinaryIO]:
    """Open a binary stream whose contents replace ``path`` atomically when the block ends.

    The stream is a temporary file in the same folder (parents created); on success it is
    flushed, fsynced, given :func:`new_file_mode` and renamed onto ``path``; on any exception it
    is deleted and ``path`` is left as it was.

    Args:
        path: destination file.

    Yields:
        The writable binary stream.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX + path.name, suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, new_file_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Args:
        path: destination; its parent folders are created.
        data: the complete file contents.
    """
    with atomic_output(path) as handle:
        handle.write(data)


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Delete leftover temporary files of :func:`atomic_write_bytes` below ``folder``.

    Args:
        folder: a dataset directory.

    Returns:
        The files removed.
    """
    removed = []
    for path in Path(folder).rglob(f"{TEMP_PREFIX}*{TEMP_SUFFIX}"):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def sha256_hex(data: bytes) -> str:
    """Return the SHA-256 of ``data`` as 64 hex digits."""
    return hashlib.sha256(data).hexdigest()


def write_json(path: str | Path, obj: Any) -> None:
    """Atomically write ``obj`` as indented UTF-8 JSON with a trailing newline."""
    text = json.dumps(obj, indent=2, allow_nan=False) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def read_manifest(root: str | Path) -> dict[str, Any]:
    """Read and check the manifest of the dataset directory ``root``.

    Args:
        root: the dataset directory.

    Returns:
        The manifest as a plain dict.

    Raises:
        ManifestError: the manifest is missing, not JSON, of another schema version or lacks keys.
    """
    path = Path(root) / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(path, "missing: this is not an mbplan dataset directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(path, f"not valid JSON ({err})") from None
    if not isinstance(manifest, dict):
        raise ManifestError(path, f"expected a JSON object, got {type(manifest).__name__}")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise ManifestError(
            path, f"schema_version is {version!r}; this mbplan reads version {SCHEMA_VERSION}"
        )
    required = ("env", "seed", "steps", "arrays", "subsets", "complete", "shard_size")
    missing = [key for key in required if key not in manifest]
    if missing:
        raise ManifestError(path, f"missing keys {missing}")
    return manifest


def write_manifest(root: str | Path, manifest: Mapping[str, Any]) -> None:
    """Atomically write ``manifest`` to ``root/manifest.json``."""
    write_json(Path(root) / MANIFEST_NAME, manifest)


def shard_file_name(label: str, array: str, index: int) -> str:
    """Return the path of one shard file relative to the dataset directory.

    Args:
        label: subset label (a folder name).
        array: one of :data:`ARRAY_NAMES`.
        index: shard number within the subset.
    """
    return f"{label}/{array}-{index:05d}.npy"


def npy_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` as a ``.npy`` file (format 1.0, C order, no pickle)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(
        buffer, np.ascontiguousarray(array), version=(1, 0), allow_pickle=False
    )
    return buffer.getvalue()


def save_shard_array(root: str | Path, relative_path: str, array: np.ndarray) -> dict[str, Any]:
    """Atomically write one shard array and return its manifest record.

    Args:
        root: the dataset directory.
        relative_path: the shard's path inside ``root`` (see :func:`shard_file_name`).
        array: ``(episodes, time, dim)`` array; must be finite.

    Returns:
        ``{"path": relative_path, "sha256": hex digest, "bytes": file size}``.

    Raises:
        ValueError: ``array`` holds NaN or infinite values (nothing is written).
    """
    if not np.isfinite(array).all():
        raise ValueError(f"refusing to write {relative_path}: the array holds NaN or inf values")
    data = npy_bytes(array)
    atomic_write_bytes(Path(root) / relative_path, data)
    return {"path": relative_path, "sha256": sha256_hex(data), "bytes": len(data)}


def _parse_npy_header(path: Path, data: bytes) -> tuple[tuple[int, ...], np.dtype, int]:
    """Return ``(shape, dtype, data offset)`` of the ``.npy`` bytes ``data`` read from ``path``."""
    buffer = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(buffer)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(buffer)
    except (ValueError, OSError, SyntaxError) as err:
        if len(data) < 128:
            raise TruncatedShardError(
                path, f"truncated: only {len(data)} bytes, too short for a .npy header"
            ) from None
        raise ShardLayoutError(path, f"not a readable .npy file ({err})") from None
    if fortran_order:
        raise ShardLayoutError(path, "stored in Fortran order; expected C order")
    if dtype.hasobject:
        raise ShardLayoutError(path, f"dtype {dtype} holds Python objects; refusing to load it")
    return tuple(shape), dtype, buffer.tell()


def load_shard_array(
    root: str | Path,
    record: Mapping[str, Any],
    *,
    dtype: str,
    shape: Sequence[int],
    verify: bool = True,
) -> np.ndarray:
    """Read one shard array and check it against its manifest record.

    The checks run in this order, each with its own error: the file exists; its header's dtype and
    shape equal the expected ones; its size equals what the header promises (else truncated); its
    SHA-256 equals the recorded one (when ``verify``); all values are finite.

    Args:
        root: the dataset directory.
        record: the shard's manifest record (``path``, ``sha256``).
        dtype: expected dtype name, e.g. ``"float32"``.
        shape: expected full shape ``(episodes, time, dim)``.
        verify: check the SHA-256 (costs one hash over the file).

    Returns:
        The array, ``shape`` and ``dtype`` as given, read-only.

    Raises:
        MissingShardError, ShardLayoutError, TruncatedShardError, ChecksumMismatchError,
        NonFiniteValueError: see above; each names the file.
    """
    path = Path(root) / record["path"]
    if not path.is_file():
        raise MissingShardError(path, "missing: the manifest lists it but the file does not exist")
    data = path.read_bytes()
    found_shape, found_dtype, offset = _parse_npy_header(path, data)
    expected_dtype = np.dtype(dtype)
    if found_dtype != expected_dtype:
        raise ShardLayoutError(path, f"dtype is {found_dtype}; the manifest says {expected_dtype}")
    if found_shape != tuple(shape):
        raise ShardLayoutError(
            path, f"shape is {found_shape}; the manifest says {tuple(int(s) for s in shape)}"
        )
    expected_size = offset + int(np.prod(found_shape)) * found_dtype.itemsize
    if len(data) != expected_size:
        raise TruncatedShardError(
            path,
            f"{'truncated' if len(data) < expected_size else 'overlong'}: {len(data)} bytes, "
            f"its header promises {expected_size}",
        )
    if verify and sha256_hex(data) != record["sha256"]:
        raise ChecksumMismatchError(
            path,
            f"SHA-256 {sha256_hex(data)[:16]}... differs from the manifest's "
            f"{str(record['sha256'])[:16]}...: the file is corrupt or was replaced",
        )
    array = np.frombuffer(data, dtype=found_dtype, offset=offset).reshape(found_shape)
    if not np.isfinite(array).all():
        bad = int(np.size(array) - np.isfinite(array).sum())
        raise NonFiniteValueError(path, f"holds {bad} NaN or infinite values")
    return array


def subset_record(manifest: Mapping[str, Any], label: str) -> Mapping[str, Any]:
    """Return the manifest entry of subset ``label``.

    Raises:
        ValueError: no subset has that label (the message lists the labels).
    """
    for subset in manifest["subsets"]:
        if subset["label"] == label:
            return subset
    labels = [subset["label"] for subset in manifest["subsets"]]
    raise ValueError(f"subsets: unknown subset {label!r}; this dataset has {labels}")


def load_subset_arrays(
    root: str | Path, manifest: Mapping[str, Any], label: str, *, verify: bool = True
) -> dict[str, np.ndarray]:
    """Load all shards of one subset and concatenate them along the episode axis.

    Args:
        root: the dataset directory.
        manifest: its manifest (see :func:`read_manifest`).
        label: the subset.
        verify: check SHA-256 checksums.

    Returns:
        ``{"observations": (N, T+1, obs_dim), "actions": (N, T, action_dim),
        "flags": (N, T+1, n_flags)}``, float32, N = the subset's episode count.

    Raises:
        DatasetError: a shard is missing, corrupt or mismatched, or the shards hold fewer
            episodes than the manifest's count.
    """
    subset = subset_record(manifest, label)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in ARRAY_NAMES}
    total = 0
    for shard in subset["shards"]:
        episodes = int(shard["episodes"])
        for name in ARRAY_NAMES:
            layout = manifest["arrays"][name]
            parts[name].append(
                load_shard_array(
                    root,
                    shard["files"][name],
                    dtype=layout["dtype"],
                    shape=(episodes, *layout["shape"]),
                    verify=verify,
                )
            )
        total += episodes
    if total != subset["count"]:
        raise DatasetError(
            Path(root) / label, f"shards hold {total} episodes; the manifest says {subset['count']}"
        )
    arrays = {}
    for name in ARRAY_NAMES:
        layout = manifest["arrays"][name]
        if parts[name]:
            arrays[name] = np.concatenate(parts[name], axis=0)
        else:
            arrays[name] = np.zeros((0, *layout["shape"]), dtype=layout["dtype"])
    return arrays
