"""Train a grid of runs (cores x regimes x seeds), in parallel processes, skipping finished runs.

Each run is an ordinary run folder ``OUT/<core>_<regime>_s<seed>``; a run that has a ``last.pt`` but
is not finished is resumed, a finished one is left alone, so a sweep interrupted with Ctrl-C
continues where it stopped when started again.
"""

from __future__ import annotations

import concurrent.futures
import logging
import multiprocessing
from collections.abc import Sequence
from pathlib import Path

from mbplan.training.config import TrainConfig
from mbplan.training.run_directory import RunDirectory

logger = logging.getLogger(__name__)


def run_name(config: TrainConfig) -> str:
    """Folder name of a run in a sweep: ``<core>_<regime>_s<seed>``."""
    return f"{config.core}_{config.regime}_s{config.seed}"


def grid_configs(
    base: TrainConfig,
    cores: Sequence[str],
    regimes: Sequence[str],
    seeds: Sequence[int],
    out_root: str | Path,
) -> list[TrainConfig]:
    """Return one configuration per (core, regime, seed), each with its own run folder.

    The learning rate stays ``base.lr``; ``None`` means the paper's value for each core and regime.
    """
    configs = []
    for core in cores:
        for regime in regimes:
            for seed in seeds:
                config = base.replace(core=core, regime=regime, seed=int(seed))
                configs.append(config.replace(out=str(Path(out_root) / run_name(config))))
    return configs


def run_status(config: TrainConfig) -> str:
    """Return ``"new"``, ``"partial"`` (resumable) or ``"done"`` for a configuration's folder."""
    run = RunDirectory(config.out)
    if not run.config_path.is_file() or not run.last_checkpoint.is_file():
        return "new"
    rows = run.read_metrics()
    if rows and int(rows[-1]["epoch"]) >= config.epochs and run.best_checkpoint.is_file():
        return "done"
    return "partial"


def train_one(config: TrainConfig, threads: int | None = None) -> str:
    """Train (or resume, or skip) one run; returns its folder.

    Args:
        config: the run's configuration.
        threads: torch intra-op threads for this process (``None``: leave as is).
    """
    import torch

    from mbplan.training.trainer import Trainer

    if threads is not None:
        torch.set_num_threads(threads)
    status = run_status(config)
    if status == "done":
        logger.info("%s is finished; skipped", config.out)
        return config.out
    run = RunDirectory(config.out)
    if status == "partial":
        trainer = Trainer.resume(config.out, epochs=config.epochs, progress=config.progress)
    else:
        if run.config_path.is_file():  # a run that never reached its first checkpoint
            run.config_path.unlink()
            run.metrics_path.unlink(missing_ok=True)
        trainer = Trainer(config)
    trainer.fit()
    return config.out


def train_all(configs: Sequence[TrainConfig], workers: int = 1) -> list[str]:
    """Train every configuration, ``workers`` at a time in separate processes.

    With ``workers > 1`` every process uses one torch thread (small recurrent models train faster
    as parallel single-threaded runs than as one multi-threaded run).

    Returns:
        The run folders, in the order of ``configs``.
    """
    if workers <= 1:
        return [train_one(config) for config in configs]
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(train_one, config.replace(progress=False), 1) for config in configs]
        return [future.result() for future in futures]
