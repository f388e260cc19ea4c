"""The paper's recipes: counts and splits as the reference, and filters that hold on real envs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mbplan.data import SequenceDataset, generate, make_recipe
from mbplan.data.io import load_subset_arrays, read_manifest
from mbplan.data.recipes import RECIPES


def sizes(split):
    return dict(split.sizes)


def test_recipes_have_the_reference_counts_lengths_and_splits():
    bb = make_recipe("billiard-paper")
    assert bb.env_id == "mbplan/BilliardBall-v0" and bb.steps == 150
    assert [s.label for s in bb.subsets] == [
        "pocket_drop_50", "pocket_drop_100", "pocket_drop_150",
        "no_pocket_drop_1", "no_pocket_drop_2", "no_pocket_drop_3",
    ]  # fmt: skip
    assert all(s.count == 1200 for s in bb.subsets)
    assert all(sizes(s.split) == {"train": 800, "val": 200, "test": 200} for s in bb.subsets)
    assert all(s.split.seed == 42 for s in bb.subsets)
    assert sum(len(v) for v in bb.windows.starts.values()) == 16
    assert bb.windows.length == 50 and bb.windows.starts["pocket_drop_50"] == (0,)

    rrc = make_recipe("rrc-paper")
    assert rrc.steps == 50 and len(rrc.subsets) == 6
    assert all(s.count == 8000 for s in rrc.subsets)
    ranges = {s.label: s.split.ranges for s in rrc.subsets}
    assert ranges["biased_control_train"] == (("train", 0, 3200),)
    assert ranges["biased_nocontrol_test"] == (("val", 0, 3200), ("test", 3200, 6400))
    assert ranges["generalization_control_test"] == (
        ("generalization_val", 0, 3200),
        ("generalization_test", 3200, 6400),
    )

    shepherd = make_recipe("shepherd-paper")
    assert shepherd.steps == 100 and len(shepherd.subsets) == 4
    assert all(s.count == 8000 for s in shepherd.subsets)
    assert all(
        sizes(s.split) == {"train": 3200, "val": 1600, "test": 3200} for s in shepherd.subsets
    )
    starts = {s.label: s.reset_options["start"] for s in shepherd.subsets}
    assert starts == {
        "gateopen_startleft": "left",
        "gateopen_startright": "right",
        "sheepcaught_startright": "right",
        "gateclosed_startleft": "left",
    }
    bias = {s.label: s.policy.params["bias_probability"] for s in shepherd.subsets}
    assert bias["gateopen_startright"] == 0.02 and bias["gateclosed_startleft"] == 0.0


def test_scale_shrinks_counts_and_splits_proportionally():
    assert sizes(make_recipe("shepherd-paper", 0.05).subsets[0].split) == {
        "train": 160, "val": 80, "test": 160,
    }  # fmt: skip
    assert sizes(make_recipe("billiard-paper", 0.05).subsets[0].split) == {
        "train": 40, "val": 10, "test": 10,
    }  # fmt: skip
    rrc = make_recipe("rrc-paper", 0.05)
    assert rrc.subsets[0].count == 400
    assert rrc.subsets[2].split.ranges == (("val", 0, 160), ("test", 160, 320))
    with pytest.raises(ValueError, match=r"recipe: expected one of \['billiard-paper'"):
        make_recipe("atari-paper")
    with pytest.raises(ValueError, match=r"scale: expected a factor in \(0, 1\], got 2"):
        make_recipe("rrc-paper", 2)
    assert sorted(RECIPES) == ["billiard-paper", "rrc-paper", "shepherd-paper"]


def small(name, count):
    return make_recipe(name, scale=count / 8000 if name != "billiard-paper" else count / 1200)


@pytest.fixture(scope="module")
def billiard(tmp_path_factory):
    root = tmp_path_factory.mktemp("bb")
    generate(small("billiard-paper", 6), root, workers=1)
    return root


@pytest.fixture(scope="module")
def rrc(tmp_path_factory):
    root = tmp_path_factory.mktemp("rrc")
    generate(small("rrc-paper", 5), root, workers=1)
    return root


@pytest.fixture(scope="module")
def shepherd(tmp_path_factory):
    root = tmp_path_factory.mktemp("shepherd")
    generate(small("shepherd-paper", 4), root, workers=1)
    return root


def arrays(root, label):
    return load_subset_arrays(root, read_manifest(root), label)


def test_billiard_subsets_drop_the_ball_in_their_interval(billiard):
    for high in (50, 100, 150):
        pocketed = arrays(billiard, f"pocket_drop_{high}")["flags"][:, :, 0]  # (6, 151)
        assert pocketed.shape == (6, 151)
        onset = pocketed.argmax(axis=1)  # first time step showing the ball in the pocket
        assert pocketed.any(axis=1).all()
        assert ((onset > high - 50) & (onset <= high)).all(), onset
        assert (np.diff(pocketed, axis=1) >= 0).all(), "the pocketed flag latches"
    for k in (1, 2, 3):
        data = arrays(billiard, f"no_pocket_drop_{k}")
        assert not data["flags"].any()
        assert data["actions"].shape == (6, 150, 0)
    rates = [s["acceptance_rate"] for s in read_manifest(billiard)["subsets"]]
    assert all(0 < r <= 1 for r in rates)


def test_rrc_control_and_nocontrol_subsets(rrc):
    for label in (
        "biased_nocontrol_train",
        "biased_nocontrol_test",
        "generalization_nocontrol_test",
    ):
        assert not arrays(rrc, label)["flags"].any(), label  # never controlled, at any step
    for label in ("biased_control_train", "biased_control_test", "generalization_control_test"):
        assert arrays(rrc, label)["flags"].any(axis=(1, 2)).all(), label
    magnitudes = np.linalg.norm(arrays(rrc, "biased_control_train")["actions"], axis=-1)
    np.testing.assert_allclose(
        magnitudes, np.broadcast_to(np.linspace(1e-4, 1, 50), (5, 50)), rtol=1e-5
    )
    general = arrays(rrc, "generalization_control_test")["actions"]
    assert general.shape == (5, 50, 2) and np.abs(general).max() <= 1.0


def test_shepherd_subsets_satisfy_their_flags_at_the_reference_steps(shepherd):
    gate, caught = 0, 2  # flag_names = (gate_open, cage_carried, sheep_caught)
    left_open = arrays(shepherd, "gateopen_startleft")["flags"]
    assert (left_open[:, 30, gate] == 0).all() and (left_open[:, 70, gate] == 1).all()
    right_open = arrays(shepherd, "gateopen_startright")
    f = right_open["flags"]
    assert (f[:, 30, gate] == 0).all() and (f[:, 70, gate] == 1).all()
    assert (f[:, 100, caught] == 0).all()
    assert (arrays(shepherd, "sheepcaught_startright")["flags"][:, 100, caught] == 1).all()
    assert (arrays(shepherd, "gateclosed_startleft")["flags"][:, 100, gate] == 0).all()
    # start right: the agent starts in x in [1, 3], observed as (x - 1) / 2 >= 0
    assert (right_open["observations"][:, 0, 0] >= 0).all()
    assert right_open["observations"].shape == (4, 101, 7)
    assert right_open["actions"].shape == (4, 100, 3)


def test_billiard_windows_are_the_references_sixteen(billiard):
    data = SequenceDataset(billiard, window="recipe")
    assert len(data.subset_labels) == 16
    assert "pocket_drop_50@0" in data.subset_labels
    assert "pocket_drop_50@50" not in data.subset_labels
    assert len(data) == 16 * 6
    full = arrays(billiard, "pocket_drop_150")
    item = data[data.subset_labels.index("pocket_drop_150@100") * 6 + 2]
    assert item["observations"].shape == (51, 2) and item["actions"].shape == (50, 0)
    np.testing.assert_array_equal(item["observations"].numpy(), full["observations"][2, 100:151])
    np.testing.assert_array_equal(item["flags"].numpy(), full["flags"][2, 100:151])
    # within the window the drop happens after its first observation
    pocketed = item["flags"][:, 0]
    assert pocketed[0] == 0 and pocketed[-1] == 1


def test_billiard_windows_of_one_episode_stay_in_one_split(billiard):
    seen = {}
    for split in ("train", "val", "test"):
        data = SequenceDataset(billiard, subsets=["no_pocket_drop_2"], split=split, window="recipe")
        assert len(data) == 3 * {"train": 4, "val": 1, "test": 1}[split]
        windows = {label: [] for label in data.subset_labels}
        for i in range(len(data)):
            item = data[i]
            windows[data.subset_labels[item["subset"]]].append(item["observations"])
        # the windows at 0, 50, 100 of the k-th item are pieces of one episode
        first, second, third = (windows[f"no_pocket_drop_2@{s}"] for s in (0, 50, 100))
        for a, b, c in zip(first, second, third, strict=True):
            assert torch.equal(a[50], b[0]) and torch.equal(b[50], c[0])
        seen[split] = torch.stack([w[0] for w in first])
    everything = torch.cat(list(seen.values()))
    assert torch.unique(everything, dim=0).shape[0] == 6


def test_rrc_splits_take_the_first_rows_in_order(rrc):
    train = SequenceDataset(rrc, split="train")
    assert train.subset_labels == ["biased_control_train", "biased_nocontrol_train"]
    rows = arrays(rrc, "biased_control_train")["observations"]
    np.testing.assert_array_equal(train[0]["observations"].numpy(), rows[0])
    np.testing.assert_array_equal(train[1]["observations"].numpy(), rows[1])
    test = SequenceDataset(rrc, split="test")
    assert test.subset_labels == ["biased_control_test", "biased_nocontrol_test"]
    rows = arrays(rrc, "biased_control_test")["observations"]
    np.testing.assert_array_equal(test[0]["observations"].numpy(), rows[2])  # rows [2, 4)
    general = SequenceDataset(rrc, split="generalization_test")
    assert general.subset_labels == ["generalization_control_test", "generalization_nocontrol_test"]
    assert len(general) == 4
    with pytest.raises(ValueError, match="split: expected one of .*got 'holdout'"):
        SequenceDataset(rrc, split="holdout")
