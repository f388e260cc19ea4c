"""Train a grid of runs (cores x regimes x seeds), in parallel processes, skipping finished runs.

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


def train_all(
    configs: Sequence[TrainConfig],
    workers: int = 1,
    say: Callable[[str], None] = logger.info,
) -> SweepResult:
    """Train every configuration, ``workers`` at a time in separate processes.

    With ``workers > 1`` every process uses one torch thread (small recurrent models train faster
    as parallel single-threaded runs than as one multi-threaded run). Every configuration is
    checked (:func:`check_grid`) before the first one trains. The first Ctrl-C or SIGTERM stops
    the sweep: running runs save and return, no further run starts.

    Args:
        configs: the runs.
        workers: runs trained at once.
        say: where the "run i of n" lines go.

    Returns:
        The finished runs, whether the sweep was interrupted, and the unfinished runs.
    """
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

    finished: list[str] = []
    with stop_on_signals(stop, "saving every running run, then stopping the sweep"):
        futures = {
            pool.submit(train_one, config.replace(progress=False), 1): config for config in configs
        }
        say(f"{len(configs)} runs, {workers} at a time, in {Path(configs[0].out).parent}")
        try:
            for future in concurrent.futures.as_completed(futures):
                if future.cancelled():
                    continue
                out, interrupted = future.result()
                if not interrupted:
                    finished.append(out)
                    say(f"finished {len(finished)} of {len(configs)}: {out}")
                if stopped or interrupted:
                    stopped = True
                    for other in futures:
                        other.cancel()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    unfinished = tuple(c.out for c in configs if c.out not in finished)
    return SweepResult(tuple(finished), stopped, unfinished)
