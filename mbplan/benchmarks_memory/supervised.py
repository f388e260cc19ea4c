"""Supervised training on copy_first_input / denoising with the VAA measured every epoch.

Protocol of the official ``supervised.py`` / ``Model.train`` (``shared/reference/cells.md``
Sec. B.3), at a configurable (smaller) budget: Adam lr 1e-3, batch 32, MSE on the scored steps;
optional warmup first (:mod:`mbplan.training.warmup`, on the training inputs, the whole network's
parameters); after every epoch the test MSE and the VAA (``vaa_estimates`` independent sets of
``vaa_states`` prefix states of training sequences, each with its own held input, converged
``vaa_steps`` steps; the mean). Deviations: no validation split or best-weights selection (the
test MSE of every epoch is reported instead); the VAA uses ``vaa_steps`` (official 10 000).
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from mbplan.analysis import core_prefix_states, vaa
from mbplan.benchmarks_memory.network import make_network
from mbplan.benchmarks_memory.tasks import MemoryTask, copy_first_input, denoising
from mbplan.training.config import WarmupConfig
from mbplan.training.warmup import core_warmup


@dataclasses.dataclass
class SupervisedConfig:
    """One supervised benchmark run (defaults: a small CPU budget, not the paper's)."""

    task: str = "copy"
    """copy (copy_first_input) or denoising"""
    length: int = 100
    """sequence length T"""
    pad_length: int = 5
    """denoising: the marked steps are drawn from the first T - pad_length"""
    n_train: int = 3200
    n_test: int = 1000
    cell: str = "gru"
    hidden_size: int = 32
    num_layers: int = 2
    double: bool = False
    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    warmup: WarmupConfig = dataclasses.field(default_factory=WarmupConfig)
    vaa_steps: int = 1000
    vaa_states: int = 32
    vaa_estimates: int = 4
    seed: int = 0


def make_task(config: SupervisedConfig, n: int, generator: torch.Generator) -> MemoryTask:
    """The configured task's dataset of ``n`` sequences."""
    if config.task == "copy":
        return copy_first_input(n, config.length, generator)
    if config.task == "denoising":
        return denoising(n, config.length, config.pad_length, generator)
    raise ValueError(f"task: expected 'copy' or 'denoising', got {config.task!r}")


def _mse(network, task: MemoryTask, batch_size: int = 500) -> float:
    network.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(task.inputs), batch_size):
            part = task.select(slice(start, start + batch_size))
            outputs, _ = network(part.inputs, part.targets.shape[1])
            total += float(F.mse_loss(outputs, part.targets, reduction="sum"))
            count += part.targets.numel()
    return total / count


def measure_vaa(network, inputs: torch.Tensor, config: SupervisedConfig, seed: int) -> float:
    """Mean VAA over ``vaa_estimates`` sets of ``vaa_states`` prefix states (one batched call)."""
    generator = torch.Generator().manual_seed(seed)
    count = config.vaa_estimates * config.vaa_states
    index = torch.randint(0, len(inputs), (count,), generator=generator)
    network.eval()
    with torch.no_grad():
        states = core_prefix_states(network.core, inputs[index], generator=generator)
        states = states.view(config.vaa_estimates, config.vaa_states, -1)
        return float(vaa(network.core, states, config.vaa_steps, generator=generator).mean())


def train_supervised(config: SupervisedConfig, progress: bool = False) -> dict[str, Any]:
    """Train one network; returns the config, warmup rows, per-epoch rows and timings.

    Rows: ``{"epoch", "train_mse", "test_mse", "vaa"}``; epoch 0 is after the warmup (or at
    initialisation), before any training update.
    """
    data_generator = torch.Generator().manual_seed(config.seed)
    train = make_task(config, config.n_train, data_generator)
    test = make_task(config, config.n_test, data_generator)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        network = make_network(
            config.cell,
            train.inputs.shape[-1],
            train.targets.shape[-1],
            config.hidden_size,
            config.num_layers,
            double=config.double,
        )
    started = time.perf_counter()
    warmup_rows: list[dict[str, Any]] = []
    if config.warmup.steps > 0:
        warmup = core_warmup(
            network.core, train.inputs, config.warmup, config.seed, network.parameters()
        )
        warmup.run(on_row=warmup_rows.append, progress=progress)
    warmup_seconds = time.perf_counter() - started
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed + 1)
    scored = train.targets.shape[1]
    rows = [
        {
            "epoch": 0,
            "train_mse": _mse(network, train),
            "test_mse": _mse(network, test),
            "vaa": measure_vaa(network, train.inputs, config, config.seed),
        }
    ]
    bar = tqdm(range(config.epochs), desc=f"{config.task}/{config.cell}", disable=not progress)
    for epoch in bar:
        network.train()
        order = torch.randperm(config.n_train, generator=generator)
        losses = []
        for start in range(0, config.n_train - config.batch_size + 1, config.batch_size):
            batch = train.select(order[start : start + config.batch_size])
            outputs, gates = network(batch.inputs, scored, generator)
            mse = F.mse_loss(outputs, batch.targets)
            loss = mse + network.regularization(gates)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(float(mse.detach()))
        rows.append(
            {
                "epoch": epoch + 1,
                "train_mse": sum(losses) / len(losses),
                "test_mse": _mse(network, test),
                "vaa": measure_vaa(network, train.inputs, config, config.seed + epoch + 1),
            }
        )
        bar.set_postfix(test=f"{rows[-1]['test_mse']:.3f}", vaa=f"{rows[-1]['vaa']:.3f}")
    return {
        "config": dataclasses.asdict(config),
        "warmup": warmup_rows,
        "epochs": rows,
        "final_test_mse": rows[-1]["test_mse"],
        "best_test_mse": min(row["test_mse"] for row in rows),
        "warmup_seconds": warmup_seconds,
        "seconds": time.perf_counter() - started,
    }
