"""Member-updates per second: one run group of K members against K solo runs in a process pool.

Side by side in one run, for GateL0RD and GRU at the RRC and Billiard presets
(``make_world_model(..., **preset(task))`` through ``TrainConfig(task=...)``), teacher forcing and
scheduled sampling, with the same total thread count (``--threads``, default 2):

* group: one process (``--threads`` torch threads, and again with one thread, i.e. half the
  pool's threads) trains K members as one :class:`~mbplan.training.group.GroupTrainer`;
* pool: K solo :class:`~mbplan.training.trainer.Trainer` runs in a pool of ``--threads`` worker
  processes with one torch thread each (what ``train_all(workers=2)`` does);
* bound: one solo run at batch ``K x 128`` with ``--threads`` threads, counted as K
  member-updates per update. It does the arithmetic of a perfectly stacked group with none of
  the stacking's overhead, so no group of K can beat it by much: where ``bound / pool`` is below
  a target, the target is out of reach on this machine whatever the group implementation.

Each measurement runs in fresh spawned processes and times ``fit`` only (open, updates, one final
validation on 8 sequences; the trainers' construction is not counted); the pool's time is the sum
of its runs' fit times over its workers (an ideal pool, in its favour); every run does
``--updates`` updates (one batch of 128 per
epoch). Data are synthetic random walks of the task's shape (RRC-like: obs 7, action 2; Billiard:
obs 2 position-like, no actions; 50 steps), on which the speed does not depend. Memory per member:
parameters, gradients and the two Adam moments (float32), and each process's peak RSS.

    python benchmarks/multirun.py --quick      # K in 1, 4, 16; 20 updates; a few minutes on 2 cores
    python benchmarks/multirun.py              # K in 1, 4, 16, 64; 60 updates
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.training.config import TrainConfig

SHAPES = {"rrc": (7, 2), "billiard": (2, 0)}
STEPS = 50


def _data(task: str, n: int) -> SequenceTensors:
    obs_dim, action_dim = SHAPES[task]
    generator = torch.Generator().manual_seed(0)
    obs = torch.cumsum(0.05 * torch.randn(n, STEPS + 1, obs_dim, generator=generator), dim=1)
    actions = torch.randn(n, STEPS, action_dim, generator=generator)
    return SequenceTensors(obs, actions, torch.zeros(n, STEPS + 1, 0), torch.zeros(n).long())


def _config(out: Path, core: str, task: str, regime: str, seed: int, updates: int) -> TrainConfig:
    return TrainConfig(
        task=task,
        core=core,
        regime=regime,  # type: ignore[arg-type]
        out=str(out),
        seed=seed,
        epochs=updates,
        batches_per_epoch=1,
        batch_size=128,
        balance_subsets=False,
        ss_slope=0.9,
        eval_every=10**6,
        eval_batch_size=8,
        progress=False,
        tensorboard=False,
    )


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _group_job(core: str, task: str, regime: str, k: int, updates: int, threads: int) -> dict:
    from mbplan.training.group import GroupTrainer
    from mbplan.training.trainer import Trainer

    torch.set_num_threads(threads)
    train, val = _data(task, 256), _data(task, 8)
    with tempfile.TemporaryDirectory() as root:
        trainers = [
            Trainer(_config(Path(root) / f"m{i}", core, task, regime, i, updates), train, val)
            for i in range(k)
        ]
        params = sum(p.numel() for p in trainers[0].model.parameters())
        started = time.perf_counter()
        GroupTrainer(trainers).fit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "params": params, "rss_mb": _peak_rss_mb()}


def _bound_job(core: str, task: str, regime: str, k: int, updates: int, threads: int) -> float:
    from mbplan.training.trainer import Trainer

    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as root:
        config = _config(Path(root) / "bound", core, task, regime, 0, updates)
        config = config.replace(batch_size=128 * k)
        trainer = Trainer(config, _data(task, max(256, 128 * k)), _data(task, 8))
        started = time.perf_counter()
        trainer.fit()
    return time.perf_counter() - started


def _solo_job(core: str, task: str, regime: str, seed: int, updates: int) -> tuple[float, float]:
    from mbplan.training.trainer import Trainer

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as root:
        config = _config(Path(root) / "solo", core, task, regime, seed, updates)
        trainer = Trainer(config, _data(task, 256), _data(task, 8))
        started = time.perf_counter()
        trainer.fit()
    return time.perf_counter() - started, _peak_rss_mb()


def _warm(_: int) -> int:
    import mbplan.training.trainer  # noqa: F401  (import cost outside the timing)

    return 0


def _measure_group(context, *args) -> dict:
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(_warm, 0).result()
        return pool.submit(_group_job, *args).result()


def _measure_bound(context, *args) -> float:
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(_warm, 0).result()
        return pool.submit(_bound_job, *args).result()


def _measure_pool(context, core, task, regime, k, updates, threads) -> dict:
    with concurrent.futures.ProcessPoolExecutor(threads, mp_context=context) as pool:
        list(pool.map(_warm, range(threads)))
        futures = [pool.submit(_solo_job, core, task, regime, i, updates) for i in range(k)]
        results = [f.result() for f in futures]
    # an ideal pool: the runs' fit times spread evenly over the workers (start-up not counted)
    seconds = sum(r[0] for r in results) / min(threads, k)
    return {"seconds": seconds, "rss_mb": max(r[1] for r in results)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="K in 1, 4, 16 and 20 updates")
    parser.add_argument("--threads", type=int, default=2, help="total threads of both sides")
    parser.add_argument("--updates", type=int, help="updates per run (default 8 quick, 30)")
    parser.add_argument("--cores", nargs="+", default=["gatel0rd", "gru"])
    parser.add_argument("--tasks", nargs="+", default=["rrc", "billiard"])
    parser.add_argument("--regimes", nargs="+", default=["tf", "ss"])
    args = parser.parse_args()
    sizes = [1, 4, 16] if args.quick else [1, 4, 16, 64]
    updates = args.updates or (20 if args.quick else 60)
    context = multiprocessing.get_context("spawn")
    print(f"threads {args.threads}, {updates} updates per run, batch 128, {STEPS} steps")
    header = (
        "| core | task | regime | K | group mu/s | group 1-thread mu/s | pool mu/s | "
        "bound mu/s | group / pool | group 1-thread / pool | bound / pool | "
        "bytes/member (p+g+Adam) | group peak RSS MB | pool worker RSS MB |"
    )
    print(header)
    print("|" + "---|" * 14)
    for core in args.cores:
        for task in args.tasks:
            for regime in args.regimes:
                for k in sizes:
                    group = _measure_group(context, core, task, regime, k, updates, args.threads)
                    single = _measure_group(context, core, task, regime, k, updates, 1)
                    pool = _measure_pool(context, core, task, regime, k, updates, args.threads)
                    bound = _measure_bound(context, core, task, regime, k, updates, args.threads)
                    bound_rate = k * updates / bound
                    group_rate = k * updates / group["seconds"]
                    single_rate = k * updates / single["seconds"]
                    pool_rate = k * updates / pool["seconds"]
                    print(
                        f"| {core} | {task} | {regime} | {k} | {group_rate:.1f} | "
                        f"{single_rate:.1f} | {pool_rate:.1f} | {bound_rate:.1f} | "
                        f"{group_rate / pool_rate:.2f}x | {single_rate / pool_rate:.2f}x | "
                        f"{bound_rate / pool_rate:.2f}x | "
                        f"{4 * 4 * group['params']} | {group['rss_mb']:.0f} | "
                        f"{pool['rss_mb']:.0f} |",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
