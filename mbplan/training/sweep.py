"""Train a grid of runs (cores x regimes x seeds), in groups and processes, skipping finished runs.

Run groups (:mod:`mbplan.training.group`): runs of one core and shape are trained K at a time as
one batched model in one process (:func:`plan_groups`; K from the device,
:func:`default_group_size`, unless ``group_size`` is given; 1 is the solo path, one ``Trainer``
per run). Groups (or solo runs) are trained ``workers`` at a time in separate processes.
:func:`train_configs` is the entry point for a list of configurations, :func:`train_group` the
unit one worker (a process, or a Ray task) runs.

Each run is an ordinary run folder ``OUT/<core>_<regime>_s<seed>``; a run that is not finished is
resumed, a finished one is left alone, so a sweep interrupted with Ctrl-C continues where it
stopped when started again. A folder is resumed or skipped only if its saved config equals the
requested one (except the fields of ``run_directory.MAY_DIFFER``; epochs may grow):
:func:`check_grid` refuses the whole sweep, before any training, naming the differing fields.

One Ctrl-C or SIGTERM stops the whole sweep: every running run saves its ``last.pt`` and no new
run starts (with ``workers > 1`` the signal is forwarded to the worker processes, which ignore it
between runs).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path

from mbplan.training.config import TrainConfig
from mbplan.training.run_directory import RunDirectory, RunMismatchError, config_differences
from mbplan.training.stop_signals import stop_on_signals

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class SweepResult:
    """What :func:`train_all` achieved.

    Attributes:
        finished: run folders trained to their epochs (or found finished).
        interrupted: whether a stop signal ended the sweep early.
        unfinished: run folders saved mid-run or not started (a rerun continues them).
    """

    finished: tuple[str, ...]
    interrupted: bool
    unfinished: tuple[str, ...]
    failed: tuple[str, ...] = ()
    """run folders of group members stopped by a non-finite loss (solo runs raise instead)"""


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What :func:`train_group` did with one run.

    Attributes:
        out: the run folder.
        interrupted: saved after a stop signal (or not started because of one).
        error: why a non-finite loss stopped the run, or ``None``.
    """

    out: str
    interrupted: bool
    error: str | None = None


#: member runs per group by device type when ``group_size`` is not given (CPU: where the 2-core
#: benchmark's member-updates/s stop growing; accelerators: many more, they idle on one model).
DEFAULT_GROUP_SIZES = {"cpu": 16, "cuda": 64}


def run_name(config: TrainConfig) -> str:
    """Folder name of a run in a sweep: ``<core>_<regime>_s<seed>``."""
    return f"{config.core}_{config.regime}_s{config.seed}"


def _distinct(name: str, values: Sequence[object]) -> None:
    repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
    if repeated:
        raise ValueError(
            f"{name}: {', '.join(repeated)} given more than once; every run must be distinct "
            f"(give each value once)"
        )


def grid_configs(
    base: TrainConfig,
    cores: Sequence[str],
    regimes: Sequence[str],
    seeds: Sequence[int],
    out_root: str | Path,
) -> list[TrainConfig]:
    """Return one configuration per (core, regime, seed), each with its own run folder.

    The learning rate stays ``base.lr``; ``None`` means the paper's value for each core and regime.

    Raises:
        ValueError: if a core, regime or seed is given twice (cores compared case-insensitively),
            which would train one run and count it several times.
    """
    _distinct("cores", [core.lower() for core in cores])
    _distinct("regimes", list(regimes))
    _distinct("seeds", [int(seed) for seed in seeds])
    configs = []
    for core in cores:
        for regime in regimes:
            for seed in seeds:
                config = base.replace(core=core.lower(), regime=regime, seed=int(seed))
                configs.append(config.replace(out=str(Path(out_root) / run_name(config))))
    return configs


def _epochs_done(run: RunDirectory) -> int:
    rows = run.read_metrics()
    return int(rows[-1]["epoch"]) if rows else 0


def run_status(config: TrainConfig) -> str:
    """Return ``"new"``, ``"partial"`` (resumable) or ``"done"`` for a configuration's folder."""
    run = RunDirectory(config.out)
    if not run.config_path.is_file():
        return "new"
    if not run.last_checkpoint.is_file():
        return "partial"  # killed before its first checkpoint: resumes from the beginning
    if _epochs_done(run) >= config.epochs and run.best_checkpoint.is_file():
        return "done"
    return "partial"


def check_run(config: TrainConfig) -> None:
    """Raise unless ``config.out`` is new or holds this very run (so it may be resumed or skipped).

    Raises:
        RunMismatchError: naming the fields in which the saved config differs, or if the run has
            already trained more epochs than requested (its results would not be the requested
            run's).
        ValueError: for an unknown core, regime or task (from resolving the config).
    """
    from mbplan.training.trainer import resolve_config

    requested = resolve_config(config)
    run = RunDirectory(config.out)
    if not run.config_path.is_file():
        return
    differences = config_differences(run.read_config(), requested.to_dict())
    if differences:
        raise RunMismatchError(
            f"{config.out} holds a run with other settings: {'; '.join(differences)} (use "
            "another --out, or repeat the run's settings)"
        )
    done = _epochs_done(run)
    if done > config.epochs:
        raise RunMismatchError(
            f"{config.out} has trained {done} epochs, more than the {config.epochs} requested "
            f"(use another --out, or --epochs {done} or more)"
        )


def check_grid(configs: Sequence[TrainConfig]) -> None:
    """:func:`check_run` for every configuration, before anything is trained."""
    for config in configs:
        check_run(config)


def train_one(config: TrainConfig, threads: int | None = None) -> tuple[str, bool]:
    """Train (or resume, or skip) one run.

    Args:
        config: the run's configuration (checked with :func:`check_run`).
        threads: torch intra-op threads for this process (``None``: leave as is).

    Returns:
        ``(run folder, interrupted)``.
    """
    import torch

    from mbplan.training.trainer import Trainer

    if threads is not None:
        torch.set_num_threads(threads)
    check_run(config)
    status = run_status(config)
    if status == "done":
        logger.info("%s is finished; skipped", config.out)
        return config.out, False
    if _WORKER_STOP.requested:  # a stop arrived while this worker was idle
        return config.out, True
    if status == "partial":
        trainer = Trainer.resume(config.out, epochs=config.epochs, progress=config.progress)
    else:
        trainer = Trainer(config)
    interrupted = trainer.fit().interrupted
    if interrupted and _WORKER_STOP.in_worker:  # runs queued to this worker must not start
        _WORKER_STOP.requested = True
    return config.out, interrupted


class _StopFlag:
    """Set by a worker process's signal handler between runs."""

    requested = False
    in_worker = False

    def set(self, *_: object) -> None:
        self.requested = True


_WORKER_STOP = _StopFlag()


def _init_worker() -> None:
    """Make a worker note a stop signal between runs instead of dying.

    During a run the trainer's own handler takes the signal and saves.
    """
    _WORKER_STOP.in_worker = True
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, _WORKER_STOP.set)


def default_group_size(device: str) -> int:
    """The group size for runs on ``device`` (:data:`DEFAULT_GROUP_SIZES`; others: 16)."""
    import torch

    return DEFAULT_GROUP_SIZES.get(torch.device(device).type, 16)


def group_key(config: TrainConfig) -> tuple[object, ...]:
    """What runs must share to be trained in one group: core, architecture, data shape, device.

    Built from the resolved configuration (no data is read): the same dataset, split, subsets and
    window give the same sequence shapes; the model keywords must be equal except the member
    scalars (:data:`mbplan.models.stacked.MEMBER_HPARAMS`).
    """
    from mbplan.models.stacked import architecture_key
    from mbplan.training.trainer import resolve_config

    resolved = resolve_config(config)
    return (
        resolved.core,
        architecture_key(resolved.model),
        resolved.device,
        resolved.batch_size,
        resolved.data,
        resolved.train_split,
        resolved.subsets,
        resolved.window,
    )


def plan_groups(configs: Sequence[TrainConfig], group_size: int) -> list[list[TrainConfig]]:
    """Split ``configs`` into groups of at most ``group_size`` runs that can train together.

    Runs are grouped by :func:`group_key` in order of first appearance and every group is cut
    into chunks of ``group_size``; no run is dropped. A split for a shape reason is logged.

    Raises:
        ValueError: if ``group_size < 1``.
    """
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size: expected an integer >= 1, got {group_size!r}")
    by_key: dict[tuple[object, ...], list[TrainConfig]] = {}
    for config in configs:
        by_key.setdefault(group_key(config), []).append(config)
    if len(by_key) > 1 and group_size > 1:
        logger.info(
            "%d runs need %d kinds of group (core, architecture, data or device differ): %s",
            len(configs),
            len(by_key),
            "; ".join(f"{key[0]} x{len(members)}" for key, members in by_key.items()),
        )
    return [
        members[start : start + group_size]
        for members in by_key.values()
        for start in range(0, len(members), group_size)
    ]


def train_group(configs: Sequence[TrainConfig], threads: int | None = None) -> list[RunOutcome]:
    """Train (or resume, or skip) the runs of one group together: the unit of one worker.

    Every run is checked (:func:`check_run`); finished ones are skipped, unfinished ones resumed
    from their ``last.pt``, new ones started, and all that are left train as one
    :class:`~mbplan.training.group.GroupTrainer` (a single run takes the solo ``Trainer``). The
    runs must share a :func:`group_key` (use :func:`plan_groups`).

    Args:
        configs: the group's runs.
        threads: torch intra-op threads for this process (``None``: leave as is).

    Returns:
        One :class:`RunOutcome` per configuration, in order.
    """
    import torch

    from mbplan.training.group import GroupTrainer, member_trainer

    if threads is not None:
        torch.set_num_threads(threads)
    if len({group_key(config) for config in configs}) > 1:
        raise ValueError("configs: these runs cannot share a group; split them with plan_groups")
    outcomes: dict[str, RunOutcome] = {}
    todo = []
    for config in configs:
        check_run(config)
        status = run_status(config)
        if status == "done":
            logger.info("%s is finished; skipped", config.out)
            outcomes[config.out] = RunOutcome(config.out, False)
        elif _WORKER_STOP.requested:  # a stop arrived while this worker was idle
            outcomes[config.out] = RunOutcome(config.out, True)
        else:
            todo.append((config, status))
    if len(todo) == 1:
        out, interrupted = train_one(todo[0][0])
        outcomes[out] = RunOutcome(out, interrupted)
    elif todo:
        cache: dict[tuple[object, ...], object] = {}
        trainers = [
            member_trainer(c, resume=True, cache=cache, epochs=c.epochs, progress=c.progress)
            if status == "partial"
            else member_trainer(c, resume=False, cache=cache)
            for c, status in todo
        ]
        for config, result in zip([c for c, _ in todo], GroupTrainer(trainers).fit(), strict=True):
            outcomes[config.out] = RunOutcome(config.out, result.interrupted, result.error)
        if any(o.interrupted for o in outcomes.values()) and _WORKER_STOP.in_worker:
            _WORKER_STOP.requested = True
    return [outcomes[config.out] for config in configs]


def train_configs(
    configs: Sequence[TrainConfig],
    *,
    workers: int = 1,
    group_size: int | None = None,
    say: Callable[[str], None] = logger.info,
) -> SweepResult:
    """Train every configuration in run groups, ``workers`` groups at a time.

    Args:
        configs: the runs (each with its own ``out``; checked with :func:`check_grid` first).
        workers: groups trained at once, each in its own process with one torch thread when
            ``workers > 1``; 1 trains in this process.
        group_size: runs per group (:func:`plan_groups`); ``None`` picks
            :func:`default_group_size` of the runs' device; 1 trains every run alone.
        say: where the progress lines go.

    Returns:
        The finished, unfinished and failed runs and whether a stop signal ended the sweep.
    """
    check_grid(configs)
    if not configs:
        return SweepResult((), False, ())
    size = default_group_size(configs[0].device) if group_size is None else group_size
    groups = plan_groups(configs, size)
    if workers <= 1:
        outcomes: list[RunOutcome] = []
        for number, group in enumerate(groups, start=1):
            names = ", ".join(f"{c.out} ({run_status(c)})" for c in group)
            say(f"group {number} of {len(groups)}: {names}")
            outcomes += train_group(group)
            if any(o.interrupted for o in outcomes):
                break
        return summarize_outcomes(configs, outcomes, any(o.interrupted for o in outcomes))
    outcomes, stopped = _run_parallel(
        [[c.replace(progress=False) for c in group] for group in groups],
        workers,
        say,
        f"{len(configs)} runs in {len(groups)} groups",
    )
    return summarize_outcomes(configs, outcomes, stopped)


def summarize_outcomes(
    configs: Sequence[TrainConfig], outcomes: Sequence[RunOutcome], stopped: bool
) -> SweepResult:
    """The :class:`SweepResult` of ``configs`` from their runs' outcomes (any backend's).

    Args:
        configs: every configuration of the sweep.
        outcomes: the outcomes of the runs that ran (finished, interrupted or failed).
        stopped: whether the sweep was stopped (Ctrl-C) before every run was done.
    """
    finished = tuple(o.out for o in outcomes if not o.interrupted and o.error is None)
    failed = tuple(o.out for o in outcomes if o.error is not None)
    unfinished = tuple(c.out for c in configs if c.out not in finished and c.out not in failed)
    return SweepResult(
        finished, stopped or any(o.interrupted for o in outcomes), unfinished, failed
    )


def train_all(
    configs: Sequence[TrainConfig],
    workers: int = 1,
    say: Callable[[str], None] = logger.info,
    group_size: int | None = 1,
) -> SweepResult:
    """Train every configuration, ``workers`` at a time in separate processes.

    ``group_size`` other than 1 trains in run groups (:func:`train_configs`; ``None``: the
    device's default size).

    With ``workers > 1`` every process uses one torch thread (small recurrent models train faster
    as parallel single-threaded runs than as one multi-threaded run). Every configuration is
    checked (:func:`check_grid`) before the first one trains. The first Ctrl-C or SIGTERM stops
    the sweep: running runs save and return, no further run starts.

    Args:
        configs: the runs.
        workers: runs trained at once.
        say: where the "run i of n" lines go.
        group_size: runs per group; 1 (the default) trains every run alone, ``None`` picks
            the device's default.

    Returns:
        The finished runs, whether the sweep was interrupted, and the unfinished runs.
    """
    if group_size != 1:
        return train_configs(configs, workers=workers, group_size=group_size, say=say)
    check_grid(configs)
    total = len(configs)
    if workers <= 1:
        finished: list[str] = []
        for number, config in enumerate(configs, start=1):
            say(f"run {number} of {total}: {config.out} ({run_status(config)})")
            out, interrupted = train_one(config)
            if interrupted:
                rest = tuple(c.out for c in configs[number - 1 :])
                return SweepResult(tuple(finished), True, rest)
            finished.append(out)
        return SweepResult(tuple(finished), False, ())
    return _train_parallel(configs, workers, say)


def _train_parallel(
    configs: Sequence[TrainConfig], workers: int, say: Callable[[str], None]
) -> SweepResult:
    units = [[config.replace(progress=False)] for config in configs]
    where = f"{len(configs)} runs, {workers} at a time, in {Path(configs[0].out).parent}"
    outcomes, stopped = _run_parallel(units, workers, say, where, solo=True)
    finished = tuple(o.out for o in outcomes if not o.interrupted)
    unfinished = tuple(c.out for c in configs if c.out not in finished)
    return SweepResult(finished, stopped, unfinished)


def _solo_unit(configs: Sequence[TrainConfig], threads: int) -> list[RunOutcome]:
    out, interrupted = train_one(configs[0], threads)
    return [RunOutcome(out, interrupted)]


def _run_parallel(
    units: Sequence[Sequence[TrainConfig]],
    workers: int,
    say: Callable[[str], None],
    what: str,
    solo: bool = False,
) -> tuple[list[RunOutcome], bool]:
    """Train ``units`` (groups, or single runs with ``solo``) in a pool of ``workers`` processes.

    Returns the outcomes of the units that returned and whether a stop ended the pool early.
    """
    context = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker
    )
    stopped = False

    def stop() -> None:
        nonlocal stopped
        stopped = True
        for process in list(getattr(pool, "_processes", {}).values()):
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    unit_fn = _solo_unit if solo else train_group
    outcomes: list[RunOutcome] = []
    total = sum(len(unit) for unit in units)
    with stop_on_signals(stop, "saving every running run, then stopping the sweep"):
        futures = [pool.submit(unit_fn, list(unit), 1) for unit in units]
        say(f"{what}, {workers} at a time")
        try:
            for future in concurrent.futures.as_completed(futures):
                if future.cancelled():
                    continue
                returned = future.result()
                outcomes += returned
                for outcome in returned:
                    if not outcome.interrupted and outcome.error is None:
                        done = sum(not o.interrupted and o.error is None for o in outcomes)
                        say(f"finished {done} of {total}: {outcome.out}")
                if stopped or any(o.interrupted for o in returned):
                    stopped = True
                    for other in futures:
                        other.cancel()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return outcomes, stopped
