"""Run a sweep's groups as Ray tasks on an existing Ray cluster (``mbplan sweep --ray``).

Each run group (:func:`mbplan.training.sweep.plan_groups`) becomes one Ray task that calls
:func:`mbplan.training.sweep.train_group`, the unit a local worker process runs. Ray schedules the
tasks over the cluster; this module adds no scheduler of its own. The run folders are written by
the tasks directly, so ``--out`` (and ``--data``) must be paths every node sees at the same place:
shared storage such as NFS, or one machine. A task whose worker dies (a killed process, a lost
node) is retried by Ray up to ``max_retries`` times; the retried ``train_group`` finds the runs'
``last.pt`` and resumes them from their last checkpoint, so a retried run ends with the same
weights as an uninterrupted one (on CPU). Runs that finished before the failure are skipped.

Ray is optional (``pip install -e ".[ray]"``); it is imported only here.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any

from mbplan.training.config import TrainConfig
from mbplan.training.sweep import (
    RunOutcome,
    SweepResult,
    check_grid,
    default_group_size,
    plan_groups,
    summarize_outcomes,
    train_group,
)

logger = logging.getLogger(__name__)

#: times Ray re-runs a task whose worker process died (each retry resumes from ``last.pt``).
DEFAULT_MAX_RETRIES = 3


def _import_ray():  # noqa: ANN202 - the ray module
    try:
        import ray
    except ImportError:
        from mbplan.errors import UserError

        raise UserError(
            "--ray: the ray package is not installed", 'pip install -e ".[ray]"'
        ) from None
    return ray


def _group_task(configs: Sequence[TrainConfig], root: str) -> list[RunOutcome]:
    """The body of one Ray task: one torch thread per task (Ray gives each task one CPU).

    Raises:
        UserError: if the sweep folder ``root`` (made by the driver) is not on this node, i.e.
            ``--out`` is not on shared storage: the runs would be written where no one reads them.
    """
    if not os.path.isdir(root):
        import socket

        from mbplan.errors import UserError

        raise UserError(
            f"--out {root} is not visible on Ray node {socket.gethostname()}",
            "put --out (and --data) on storage every node mounts at the same path",
        )
    return train_group(configs, threads=1)


def _absolute(config: TrainConfig) -> TrainConfig:
    """Paths the workers can use: a relative path would resolve in each worker's own folder."""
    data = os.path.abspath(config.data) if config.data else config.data
    return config.replace(out=os.path.abspath(config.out), data=data, progress=False)


def connect(address: str) -> None:
    """Join the Ray cluster at ``address`` (``auto``: the one started on this machine).

    Does nothing if this process is already connected (e.g. a test's local cluster).

    Raises:
        UserError: if ray is missing or no cluster answers at ``address``.
    """
    ray = _import_ray()
    if ray.is_initialized():
        return
    try:
        ray.init(address=address, log_to_driver=False)
    except (ConnectionError, RuntimeError, ValueError) as err:
        from mbplan.errors import UserError

        raise UserError(
            f"--ray {address}: no Ray cluster there ({' '.join(str(err).split())[:200]})",
            "start one with 'ray start --head' and pass --ray auto, or give its address",
        ) from None


def train_configs_ray(
    configs: Sequence[TrainConfig],
    *,
    group_size: int | None = None,
    max_retries: int = DEFAULT_MAX_RETRIES,
    say: Callable[[str], None] = logger.info,
) -> SweepResult:
    """Train every configuration in run groups, one Ray task per group, on the connected cluster.

    Args:
        configs: the runs (each with its own ``out`` on storage every node sees; checked with
            :func:`check_grid` first).
        group_size: runs per group; ``None`` picks the runs' device default.
        max_retries: retries of a task whose worker died; each resumes from the checkpoints.
        say: where the progress lines go.

    Returns:
        The finished, unfinished and failed runs.
    """
    ray = _import_ray()
    configs = [_absolute(config) for config in configs]
    check_grid(configs)
    if not configs:
        return SweepResult((), False, ())
    root = os.path.commonpath([os.path.dirname(config.out) for config in configs])
    os.makedirs(root, exist_ok=True)
    size = default_group_size(configs[0].device) if group_size is None else group_size
    groups = plan_groups(configs, size)
    task = ray.remote(num_cpus=1, max_retries=max_retries)(_group_task)
    refs = {task.remote(group, root): group for group in groups}
    say(f"{len(configs)} runs in {len(groups)} groups as Ray tasks")
    outcomes: list[RunOutcome] = []
    pending = list(refs)
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            returned = _result(ray, ready[0], refs[ready[0]], max_retries)
            outcomes += returned
            for outcome in returned:
                say(
                    f"finished: {outcome.out}"
                    if outcome.error is None
                    else f"failed: {outcome.out}"
                )
    except KeyboardInterrupt:  # the driver's Ctrl-C: cancel the tasks; a rerun resumes them
        for ref in pending:
            ray.cancel(ref)
        return summarize_outcomes(configs, outcomes, True)
    return summarize_outcomes(configs, outcomes, False)


def _result(ray: Any, ref: Any, group: Sequence[TrainConfig], max_retries: int) -> list[RunOutcome]:
    """A finished task's outcomes; a task's own error is raised as itself (e.g. a UserError)."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        cause = getattr(err, "cause", None)
        raise (cause if isinstance(cause, Exception) else err) from None
    except ray.exceptions.RayError as err:  # the worker or its node died on every try
        from mbplan.errors import UserError

        runs = ", ".join(config.out for config in group)
        raise UserError(
            f"the Ray task of {runs} failed {max_retries + 1} times "
            f"({' '.join(str(err).split())[:300]})",
            "run the same command again: its runs resume from their last checkpoint",
        ) from None
