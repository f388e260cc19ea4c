"""Generation engine: reproducible bytes across workers and resumption, directory handling."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_data_toyenv import TOY_ID, ToyEnv, directory_bytes, toy_spec

from mbplan.data import DatasetExistsError, IncompleteDatasetError, generate, generic_spec
from mbplan.data.episodes import EpisodeRunner, episode_seeds
from mbplan.data.io import read_manifest

SHARD = 7  # small shards, so that runs are interrupted between shards


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted single-process run of the toy spec."""
    root = tmp_path_factory.mktemp("reference")
    report = generate(toy_spec(), root, workers=1, shard_size=SHARD)
    return root, report


def test_one_and_two_workers_write_identical_bytes(reference, tmp_path):
    root, _ = reference
    generate(toy_spec(), tmp_path, workers=2, shard_size=SHARD)
    ours, theirs = directory_bytes(tmp_path), directory_bytes(root)
    assert ours.keys() == theirs.keys() and len(ours) == 1 + 2 * 3 * 9  # manifest, 9 shards x 3
    assert ours == theirs


class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_bytes(reference, tmp_path, monkeypatch):
    root, report = reference
    # in one process the subsets run one after the other: crash part-way through the second
    crash_at = report.subsets[0].steps_simulated + report.subsets[1].steps_simulated * 3 // 5
    original_step = ToyEnv.step
    calls = {"n": 0}

    def failing_step(self, action):
        calls["n"] += 1
        if calls["n"] > crash_at:
            raise Interrupt("simulated crash")
        return original_step(self, action)

    monkeypatch.setattr(ToyEnv, "step", failing_step)
    with pytest.raises(Interrupt):
        generate(toy_spec(), tmp_path, workers=1, shard_size=SHARD)
    manifest = read_manifest(tmp_path)
    assert not manifest["complete"]
    assert len(manifest["subsets"][0]["shards"]) == 9
    assert 0 < len(manifest["subsets"][1]["shards"]) < 9
    assert not list(tmp_path.rglob("*.tmp")), "no temporary file survives a failure"
    from mbplan.data import SequenceDataset

    with pytest.raises(IncompleteDatasetError, match="resume"):
        SequenceDataset(tmp_path)

    monkeypatch.setattr(ToyEnv, "step", original_step)
    report = generate(toy_spec(), tmp_path, workers=2, shard_size=SHARD)  # resume, in parallel
    assert report.generated
    assert directory_bytes(tmp_path) == directory_bytes(root)


def test_a_killed_worker_fails_the_run_and_a_rerun_completes_it(reference, tmp_path):
    spec = toy_spec(die_in_worker_after=400)
    with pytest.raises(RuntimeError, match="worker process died"):
        generate(spec, tmp_path, workers=2, shard_size=SHARD)
    assert not read_manifest(tmp_path)["complete"]
    generate(spec, tmp_path, workers=1, shard_size=SHARD)  # in-process: the env never dies
    clean = tmp_path.parent / "clean"
    generate(spec, clean, workers=1, shard_size=SHARD)
    assert directory_bytes(tmp_path) == directory_bytes(clean)


def test_different_seeds_give_different_data(reference, tmp_path):
    root, _ = reference
    generate(toy_spec(seed=1), tmp_path, workers=1, shard_size=SHARD)
    first = np.load(root / "never" / "observations-00000.npy")
    second = np.load(tmp_path / "never" / "observations-00000.npy")
    assert first.shape == second.shape
    assert not np.allclose(first, second)


def test_episodes_derive_from_seed_label_and_index_alone(reference):
    root, report = reference
    manifest = read_manifest(root)
    subset = toy_spec().subsets[0]
    record = manifest["subsets"][0]
    runner = EpisodeRunner(TOY_ID, {}, 20)
    first = record["shards"][0]["first_candidate"]
    for index in range(first):  # every earlier candidate was rejected
        assert runner.run(subset, 0, index)[0] is None
    episode, steps = runner.run(subset, 0, first)
    stored = np.load(root / "enter_early" / "observations-00000.npy")
    np.testing.assert_array_equal(stored[0], episode[0])
    # the acceptance rate is count / (index of the last accepted candidate + 1)
    last = record["shards"][-1]["next_candidate"]
    assert record["attempts"] == last
    assert record["acceptance_rate"] == pytest.approx(60 / last)
    assert report.subsets[0].acceptance_rate == pytest.approx(60 / last)
    assert runner.run(subset, 0, last - 1)[0] is not None
    # the env seed and the policy generator differ between candidates and labels
    seeds = {episode_seeds(0, label, i)[0] for label in ("a", "b") for i in range(50)}
    assert len(seeds) == 100


def test_rerun_of_a_complete_dataset_is_a_no_op(reference):
    root, _ = reference
    before = directory_bytes(root)
    stamp = (root / "manifest.json").stat().st_mtime_ns
    report = generate(toy_spec(), root, workers=1, shard_size=SHARD)
    assert not report.generated
    assert (root / "manifest.json").stat().st_mtime_ns == stamp
    assert directory_bytes(root) == before


def test_a_different_dataset_is_refused_unless_overwrite(reference, tmp_path):
    root, _ = reference
    with pytest.raises(DatasetExistsError, match="different dataset.*seed"):
        generate(toy_spec(seed=5), root, workers=1, shard_size=SHARD)
    with pytest.raises(DatasetExistsError, match="different dataset"):
        generate(toy_spec(), root, workers=1, shard_size=SHARD + 1)
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(DatasetExistsError, match="not empty"):
        generate(toy_spec(count=3), tmp_path, workers=1)
    target = tmp_path / "ds"
    generate(toy_spec(count=3), target, workers=1)
    generate(toy_spec(count=4, seed=2), target, workers=1, overwrite=True)
    manifest = read_manifest(target)
    assert manifest["seed"] == 2 and manifest["subsets"][0]["count"] == 4
    assert manifest["complete"]
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_unknown_names_and_impossible_filters_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="env: unknown id 'mbplan/Nope-v0'"):
        generate(generic_spec("mbplan/Nope-v0", "uniform", 2, 5), tmp_path / "a")
    with pytest.raises(ValueError, match="policy: expected one of .*got 'wander'"):
        generate(generic_spec(TOY_ID, "wander", 2, 5), tmp_path / "b")
    with pytest.raises(ValueError, match="policy 'shepherd'"):  # 2-D toy actions, not 3
        generate(generic_spec(TOY_ID, "shepherd", 2, 5), tmp_path / "c")
    spec = toy_spec(count=2)
    from dataclasses import replace

    from mbplan.data.filters import FlagEver

    bad = replace(spec, subsets=(replace(spec.subsets[1], filters=(FlagEver("unicorn"),)),))
    with pytest.raises(ValueError, match=r"no info keys \['unicorn'\]"):
        generate(bad, tmp_path / "d")
    assert not (tmp_path / "d").exists(), "validation happens before anything is written"


def test_manifest_records_layout_versions_and_plan(reference):
    root, _ = reference
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["env"] == {"id": TOY_ID, "kwargs": {}}
    assert manifest["obs_dim"] == 2 and manifest["action_dim"] == 2
    assert manifest["flag_names"] == ["in_zone", "moved"]
    assert manifest["arrays"]["observations"] == {"dtype": "float32", "shape": [21, 2]}
    assert set(manifest["versions"]) == {"numpy", "gymnasium", "pymunk"}
    assert manifest["subsets"][0]["filters"] == [
        {"kind": "event_step_in", "key": "zone_step", "low": 0, "high": 10}
    ]
    assert manifest["subsets"][0]["reset_options"] == {"start": "right"}
    assert [s["episodes"] for s in manifest["subsets"][1]["shards"]] == [7] * 8 + [4]
