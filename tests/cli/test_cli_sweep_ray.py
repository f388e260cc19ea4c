"""``mbplan sweep --ray`` on a real local Ray cluster: the same weights as the local backend, and a
task whose worker process dies after its first checkpoint is retried, resumes and finishes."""

from __future__ import annotations

import json

import pytest
import torch
from test_cli_sweep import sweep_argv

from mbplan.cli import main
from mbplan.training.checkpoint import load_checkpoint
from mbplan.training.trainer import CRASH_ENV

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster():
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def weights(run):
    return load_checkpoint(run / "last.pt")["model"]


def assert_same_weights(first, second):
    one, two = weights(first), weights(second)
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=0, atol=0)


def test_ray_sweep_equals_the_local_backend(cluster, dataset, tmp_path, capsys):
    grid = ["--grid", "seed=0:2", "--group-size", "1"]
    assert main(sweep_argv(dataset, tmp_path / "local", *grid)) == 0
    assert main(sweep_argv(dataset, tmp_path / "ray", *grid, "--ray", "auto")) == 0
    for name in ("seed=0", "seed=1"):
        assert_same_weights(tmp_path / "local" / name, tmp_path / "ray" / name)
    local = json.loads((tmp_path / "local" / "sweep.json").read_text())["rows"]
    remote = json.loads((tmp_path / "ray" / "sweep.json").read_text())["rows"]
    assert local == remote and [row["status"] for row in remote] == ["done", "done"]


def test_a_killed_task_is_retried_and_resumes(cluster, dataset, tmp_path, capsys, monkeypatch):
    grid = ["--grid", "seed=0", "--epochs", "6"]
    assert main(sweep_argv(dataset, tmp_path / "local", *grid)) == 0
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_ENV, str(marker))
    assert main(sweep_argv(dataset, tmp_path / "ray", *grid, "--ray", "auto")) == 0
    assert marker.is_file()  # the first attempt died after its first checkpoint (epoch 1 of 6)
    run = tmp_path / "ray" / "seed=0"
    rows = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]  # one row each
    assert_same_weights(tmp_path / "local" / "seed=0", run)
