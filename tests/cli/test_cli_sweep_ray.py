"""``mbplan sweep --ray`` on a real local Ray cluster: the same weights as the local backend, and a
task whose worker process dies after its first checkpoint is retried, resumes and finishes.

The crash is injected from outside mbplan: the cluster's job-level ``worker_process_setup_hook``
(which Ray runs in every worker process it starts, retried tasks' included) wraps
``Trainer._save_last`` so that, once the test arms it, the first worker to save a mid-run
``last.pt`` dies at once (``os._exit``) as a preempted worker would."""

from __future__ import annotations

import json
import os
import sys

import pytest
import torch
from test_cli_sweep import sweep_argv

from mbplan.cli import main
from mbplan.training.checkpoint import load_checkpoint

ray = pytest.importorskip("ray")


def crash_once_after_a_mid_run_checkpoint(armed: str, crashed: str) -> None:
    """Worker setup hook: while ``armed`` exists, the first ``last.pt`` saved at epoch >= 1 (after
    real updates, not the one a run saves when it starts) writes ``<run folder> <epoch>`` into
    ``crashed`` and kills its worker process; every later worker finds ``crashed`` and trains on."""
    from mbplan.training.trainer import Trainer

    save_last = Trainer._save_last

    def _save_last(self: Trainer) -> None:
        save_last(self)
        if not os.path.exists(armed) or self.position.epoch < 1:
            return
        try:
            with open(crashed, "x", encoding="utf-8") as file:
                file.write(f"{self.run.path} {self.position.epoch}\n")
        except FileExistsError:
            return
        os._exit(1)

    Trainer._save_last = _save_last


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local 2-CPU Ray cluster whose workers carry the (disarmed) crash hook; yields its
    ``(armed, crashed)`` marker paths."""
    folder = tmp_path_factory.mktemp("crash_hook")
    markers = (str(folder / "armed"), str(folder / "crashed"))
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers can't import tests/

    def hook() -> None:
        crash_once_after_a_mid_run_checkpoint(*markers)

    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"worker_process_setup_hook": hook},
    )
    yield markers
    ray.shutdown()


def weights(run):
    return load_checkpoint(run / "last.pt")["model"]


def assert_same_weights(first, second):
    one, two = weights(first), weights(second)
    assert one.keys() == two.keys()
    for key in one:
        torch.testing.assert_close(one[key], two[key], rtol=0, atol=0)


def test_ray_sweep_equals_the_local_backend(cluster, dataset, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out: the workers get absolute paths
    grid = ["--grid", "seed=0:2", "--group-size", "1"]
    assert main(sweep_argv(dataset, "local", *grid)) == 0
    assert main(sweep_argv(dataset, "ray", *grid, "--ray", "auto")) == 0
    for name in ("seed=0", "seed=1"):
        assert_same_weights(tmp_path / "local" / name, tmp_path / "ray" / name)
    local = json.loads((tmp_path / "local" / "sweep.json").read_text())["rows"]
    remote = json.loads((tmp_path / "ray" / "sweep.json").read_text())["rows"]
    assert local == remote and [row["status"] for row in remote] == ["done", "done"]


def test_a_killed_task_is_retried_and_resumes(cluster, dataset, tmp_path, capsys, monkeypatch):
    # one task trains a group of two; its worker dies right after one member's checkpoint of a
    # mid-run epoch, so the retry resumes the two members from different epochs
    grid = ["--grid", "seed=0:2", "--group-size", "2", "--epochs", "6"]
    assert main(sweep_argv(dataset, tmp_path / "local", *grid)) == 0
    armed, crashed = cluster
    open(armed, "w").close()
    try:
        assert main(sweep_argv(dataset, tmp_path / "ray", *grid, "--ray", "auto")) == 0
    finally:
        os.remove(armed)
    with open(crashed, encoding="utf-8") as file:
        killed, epoch = file.read().split()
    assert killed.startswith(str(tmp_path / "ray")) and 1 <= int(epoch) < 6  # died mid-run
    for name in ("seed=0", "seed=1"):
        run = tmp_path / "ray" / name
        rows = (run / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(row)["epoch"] for row in rows] == [1, 2, 3, 4, 5, 6]  # one row each
        assert_same_weights(tmp_path / "local" / name, run)
    local = json.loads((tmp_path / "local" / "sweep.json").read_text())["rows"]
    assert json.loads((tmp_path / "ray" / "sweep.json").read_text())["rows"] == local


def test_a_task_refuses_an_out_folder_its_node_cannot_see(tmp_path):
    from mbplan.errors import UserError
    from mbplan.training.ray_backend import _group_task

    with pytest.raises(UserError, match="is not visible on Ray node .* shared storage|mounts"):
        _group_task([], str(tmp_path / "not_shared"))
