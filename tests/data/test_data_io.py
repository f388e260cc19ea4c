"""Corrupt, truncated or mismatched files: each gives its own error naming the file."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest
from test_data_toyenv import directory_bytes, toy_spec

from mbplan.data import (
    ChecksumMismatchError,
    ManifestError,
    MissingShardError,
    NonFiniteValueError,
    SequenceDataset,
    ShardLayoutError,
    TruncatedShardError,
    generate,
)
from mbplan.data.io import (
    atomic_write_bytes,
    load_subset_arrays,
    npy_bytes,
    read_manifest,
    save_shard_array,
    sha256_hex,
)

SHARD = "never/observations-00001.npy"


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    root = tmp_path_factory.mktemp("pristine")
    generate(toy_spec(count=20), root, workers=1, shard_size=8)
    return root


@pytest.fixture
def dataset(pristine, tmp_path):
    copy = tmp_path / "ds"
    shutil.copytree(pristine, copy)
    return copy


def test_intact_dataset_loads(dataset):
    items = SequenceDataset(dataset)
    assert len(items) == 40


def test_truncated_shard(dataset):
    path = dataset / SHARD
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(TruncatedShardError, match=r"observations-00001\.npy: truncated"):
        SequenceDataset(dataset)
    path.write_bytes(b"\x93NUMPY")  # cut inside the header
    with pytest.raises(TruncatedShardError, match="too short for a .npy header"):
        SequenceDataset(dataset)


def test_flipped_byte(dataset):
    path = dataset / SHARD
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01  # a single bit in the last value
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatchError, match=r"observations-00001\.npy: SHA-256"):
        SequenceDataset(dataset)
    SequenceDataset(dataset, verify=False)  # the bytes still parse; only the checksum catches it


def test_wrong_dtype_and_shape(dataset):
    path = dataset / SHARD
    array = np.load(path)
    path.write_bytes(npy_bytes(array.astype(np.float64)))
    with pytest.raises(ShardLayoutError, match="dtype is float64; the manifest says float32"):
        SequenceDataset(dataset)
    path.write_bytes(npy_bytes(array[:, :-1]))
    with pytest.raises(
        ShardLayoutError, match=r"shape is \(8, 20, 2\); the manifest says \(8, 21, 2\)"
    ):
        SequenceDataset(dataset)


def test_nan_values(dataset):
    # a generator bug that wrote NaN with a matching checksum: only the value check catches it
    path = dataset / SHARD
    array = np.load(path).copy()
    array[3, 5, 1] = np.nan
    data = npy_bytes(array)
    path.write_bytes(data)
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["subsets"][1]["shards"][1]["files"]["observations"]["sha256"] = sha256_hex(data)
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(NonFiniteValueError, match=r"observations-00001\.npy: holds 1 NaN"):
        SequenceDataset(dataset)


def test_missing_shard_and_bad_manifest(dataset):
    (dataset / SHARD).unlink()
    with pytest.raises(MissingShardError, match=r"observations-00001\.npy: missing"):
        SequenceDataset(dataset)
    manifest_path = dataset / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "schema_version": 99}))
    with pytest.raises(ManifestError, match="schema_version is 99"):
        SequenceDataset(dataset)
    manifest_path.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        SequenceDataset(dataset)
    manifest_path.unlink()
    with pytest.raises(ManifestError, match="not an mbplan dataset"):
        SequenceDataset(dataset)


def test_subset_count_must_match_the_shards(dataset):
    manifest = read_manifest(dataset)
    manifest["subsets"][1]["shards"].pop()
    with pytest.raises(ValueError, match="shards hold 16 episodes; the manifest says 20"):
        load_subset_arrays(dataset, manifest, "never")


def test_resume_regenerates_a_corrupt_shard(pristine, dataset):
    manifest_path = dataset / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["complete"] = False  # as if the run had been interrupted after this shard
    manifest["subsets"][1]["attempts"] = manifest["subsets"][1]["acceptance_rate"] = None
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
    data = bytearray((dataset / SHARD).read_bytes())
    data[200] ^= 0xFF
    (dataset / SHARD).write_bytes(bytes(data))
    generate(toy_spec(count=20), dataset, workers=1, shard_size=8)
    assert directory_bytes(dataset) == directory_bytes(pristine)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "file.bin"
    atomic_write_bytes(target, b"old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(target, b"new contents")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"], "the temporary file is removed"


def test_shards_with_nan_are_never_written(tmp_path):
    with pytest.raises(ValueError, match="NaN or inf"):
        save_shard_array(tmp_path, "s/x.npy", np.array([[[np.inf]]], np.float32))
    assert not (tmp_path / "s" / "x.npy").exists()
    record = save_shard_array(tmp_path, "s/y.npy", np.ones((1, 2, 3), np.float32))
    assert record["bytes"] == 128 + 24 and len(record["sha256"]) == 64
    loaded = np.load(tmp_path / "s" / "y.npy", allow_pickle=False)
    np.testing.assert_array_equal(loaded, np.ones((1, 2, 3), np.float32))
