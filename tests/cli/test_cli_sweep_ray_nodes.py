"""``mbplan sweep --ray ADDRESS`` on a multi-node Ray cluster: tasks run on nodes other than the
driver's, and a node lost mid-run is replaced and its task resumes on the new node.

The cluster is ``ray.cluster_utils.Cluster``: a head node with no CPUs (so no task can run beside
the driver) and separate worker nodes, each its own raylet and object store, reached by the
driver through the head's GCS address, the way ``--ray HOST:PORT`` reaches a remote cluster. The
nodes share this machine's filesystem, which stands in for the shared storage a real cluster
needs. Losing a node is ``Cluster.remove_node``: its raylet and every worker process on it are
killed, as when a cloud node is preempted.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_sweep import sweep_argv
from test_cli_sweep_ray import assert_same_weights

from mbplan.cli import main

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

EPOCHS = 40


@pytest.fixture(scope="module")
def nodes():
    """A head without CPUs and two 1-CPU worker nodes; yields the ``Cluster``."""
    if ray.is_initialized():
        ray.shutdown()
    cluster = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 0, "include_dashboard": False},
    )
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    yield cluster
    if ray.is_initialized():
        ray.shutdown()
    cluster.shutdown()


def _epochs_done(run: Path) -> int:
    metrics = run / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.is_file() else 0


def _replace_nodes_mid_run(cluster, root: Path, driver: subprocess.Popen) -> int:
    """Once a run under ``root`` has logged an epoch (and before it ends), add a fresh node and
    remove every other worker node; returns the epoch reached at the removal (0: never)."""
    while driver.poll() is None:
        done = max((_epochs_done(run) for run in root.glob("seed=*")), default=0)
        if 1 <= done < EPOCHS // 2:
            old = list(cluster.worker_nodes)
            cluster.add_node(num_cpus=1)
            for node in old:
                cluster.remove_node(node, allow_graceful=False)
            return done
        time.sleep(0.01)
    return 0


def test_tasks_run_on_worker_nodes_reached_by_address(nodes, dataset, tmp_path, capsys):
    grid = ["--grid", "seed=0:2", "--group-size", "1"]
    assert main(sweep_argv(dataset, tmp_path / "local", *grid)) == 0
    assert main(sweep_argv(dataset, tmp_path / "ray", *grid, "--ray", nodes.address)) == 0
    # the head (the driver's node) has no CPU, so every task ran on one of the worker nodes
    cpus = {n["NodeID"]: n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]}
    assert cpus.pop(nodes.head_node.node_id) == 0 and sorted(cpus.values()) == [1, 1]
    for name in ("seed=0", "seed=1"):
        assert_same_weights(tmp_path / "local" / name, tmp_path / "ray" / name)
    local = json.loads((tmp_path / "local" / "sweep.json").read_text())["rows"]
    assert json.loads((tmp_path / "ray" / "sweep.json").read_text())["rows"] == local


def test_a_lost_node_is_replaced_and_its_task_resumes_there(nodes, dataset, tmp_path, capsys):
    grid = ["--grid", "seed=0:2", "--group-size", "2", "--epochs", str(EPOCHS)]
    assert main(sweep_argv(dataset, tmp_path / "local", *grid)) == 0
    # the driver is its own process, as on a laptop pointed at a cluster (Cluster.add_node and
    # mbplan's Ctrl-C handling both need a main thread)
    root = tmp_path / "ray"
    argv = sweep_argv(dataset, root, *grid, "--ray", nodes.address)
    driver = subprocess.Popen([sys.executable, "-m", "mbplan", *argv], stderr=subprocess.PIPE)
    epoch = _replace_nodes_mid_run(nodes, root, driver)
    _, stderr = driver.communicate(timeout=600)
    assert driver.returncode == 0, stderr.decode()[-2000:]
    assert 1 <= epoch < EPOCHS, "the nodes were not removed mid-run"
    # the task was retried: each run was opened a second time (a new TensorBoard log) to resume
    for name in ("seed=0", "seed=1"):
        assert len(list((root / name).glob("events.out.tfevents.*"))) == 2
    for name in ("seed=0", "seed=1"):
        rows = (root / name / "metrics.jsonl").read_text().splitlines()
        assert [json.loads(row)["epoch"] for row in rows] == list(range(1, EPOCHS + 1))
        assert_same_weights(tmp_path / "local" / name, root / name)
