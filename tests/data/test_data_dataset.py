"""SequenceDataset: items, collation, splits, subsets and windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_data_toyenv import toy_spec
from torch.utils.data import DataLoader, random_split

from mbplan.data import SequenceDataset, Windows, generate
from mbplan.data.dataset import split_indices
from mbplan.data.io import load_subset_arrays, read_manifest
from mbplan.data.spec import RandomSplit, RangeSplit


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    generate(toy_spec(count=20), root, workers=1, shard_size=6)
    return root


def test_items_are_float32_tensors_and_collate_to_batch_time_dim(root):
    data = SequenceDataset(root)
    assert len(data) == 40 and data.subset_labels == ["enter_early", "never"]
    item = data[0]
    assert item["observations"].shape == (21, 2) and item["observations"].dtype == torch.float32
    assert item["actions"].shape == (20, 2) and item["actions"].dtype == torch.float32
    assert item["flags"].shape == (21, 2) and item["subset"] == 0
    batch = next(iter(DataLoader(data, batch_size=8, shuffle=False)))
    assert batch["observations"].shape == (8, 21, 2)
    assert batch["actions"].shape == (8, 20, 2)
    assert batch["flags"].shape == (8, 21, 2)
    assert batch["subset"].tolist() == [0] * 8
    stored = load_subset_arrays(root, read_manifest(root), "enter_early")
    np.testing.assert_array_equal(batch["observations"].numpy(), stored["observations"][:8])
    assert data.obs_dim == 2 and data.action_dim == 2 and data.flag_names == ("in_zone", "moved")


def test_random_split_matches_torch_random_split():
    split = RandomSplit((("train", 12), ("val", 4), ("test", 4)), seed=42)
    ours = split_indices(split, 20)
    theirs = random_split(range(20), [12, 4, 4], generator=torch.Generator().manual_seed(42))
    for name, part in zip(("train", "val", "test"), theirs, strict=True):
        assert ours[name].tolist() == list(part.indices)
    ranges = split_indices(RangeSplit((("a", 0, 3), ("b", 3, 5))), 10)
    assert ranges["a"].tolist() == [0, 1, 2] and ranges["b"].tolist() == [3, 4]


def test_splits_are_disjoint_and_cover_each_subset(root):
    parts = {name: SequenceDataset(root, split=name) for name in ("train", "val", "test")}
    assert [len(p) for p in parts.values()] == [24, 8, 8]  # 60/20/20 % of 2 x 20
    starts = [
        {tuple(p[i]["observations"][0].tolist()) for i in range(len(p))} for p in parts.values()
    ]
    assert not (starts[0] & starts[1] or starts[0] & starts[2] or starts[1] & starts[2])
    everything = SequenceDataset(root)
    assert set.union(*starts) == {
        tuple(everything[i]["observations"][0].tolist()) for i in range(len(everything))
    }
    again = SequenceDataset(root, split="val")
    for i in range(len(again)):
        assert torch.equal(again[i]["observations"], parts["val"][i]["observations"])


def test_subset_selection_and_balanced_indices(root):
    data = SequenceDataset(root, subsets=["never"], split="train")
    assert data.subset_labels == ["never"] and len(data) == 12
    assert not any(data[i]["flags"][:, 0].any() for i in range(len(data)))
    both = SequenceDataset(root, split="train")
    groups = both.subset_items()
    assert [len(v) for v in groups.values()] == [12, 12]
    assert all(both[int(i)]["subset"] == 1 for i in groups["never"])
    with pytest.raises(ValueError, match=r"subsets: unknown \['sometimes'\]"):
        SequenceDataset(root, subsets=["sometimes"])
    with pytest.raises(ValueError, match="expected a list of labels"):
        SequenceDataset(root, subsets="never")


def test_explicit_windows(root):
    windows = Windows(5, {"never": (0, 10, 15)})
    data = SequenceDataset(root, window=windows)
    assert data.subset_labels == ["never@0", "never@10", "never@15"] and len(data) == 60
    full = SequenceDataset(root, subsets=["never"])
    item = data[20 + 3]  # never@10, episode 3
    assert item["subset"] == 1
    assert item["observations"].shape == (6, 2) and item["actions"].shape == (5, 2)
    assert torch.equal(item["observations"], full[3]["observations"][10:16])
    assert torch.equal(item["actions"], full[3]["actions"][10:15])
    with pytest.raises(ValueError, match="exceeds the 20 stored steps"):
        SequenceDataset(root, window=Windows(6, {"never": (15,)}))
    with pytest.raises(ValueError, match="defines no recipe windows"):
        SequenceDataset(root, window="recipe")
    with pytest.raises(ValueError, match="window: expected None, 'recipe' or a Windows"):
        SequenceDataset(root, window=50)
