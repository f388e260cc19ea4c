"""How far a run-group member is from the same run trained alone, per core, after 1 and 200 updates.

For every core, a group of three members (different seeds, learning rates, lambda, gate noise,
regimes) and the same three runs trained alone by the solo ``Trainer`` on identical data (small
models, 8 sequences of 10 steps per batch, scheduled sampling from the second epoch). Prints the
largest absolute weight difference and the largest relative one (per tensor, against the solo
tensor's largest magnitude) over all members and tensors.

    python benchmarks/group_equality.py             # 1 and 200 updates, all six cores
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from mbplan.data.tensors import SequenceTensors
from mbplan.training.config import preset_config
from mbplan.training.group import GroupTrainer
from mbplan.training.trainer import Trainer

SMALL = {"hidden_size": 8, "feature_size": 8, "depth": 1, "f_pre_layers": 2, "k": 1}
CORES = ("gatel0rd", "elman", "gru", "lstm", "brc", "nbrc")


def _data() -> SequenceTensors:
    generator = torch.Generator().manual_seed(0)
    obs = torch.cumsum(0.1 * torch.randn(64, 11, 3, generator=generator), dim=1)
    actions = torch.randn(64, 10, 2, generator=generator)
    return SequenceTensors(obs, actions, torch.zeros(64, 11, 0), torch.arange(64) % 2)


def _members(core: str) -> list[dict]:
    noise = {"gate_noise_level": 0.3} if core == "gatel0rd" else {}
    return [
        {"seed": 0},
        {"seed": 1, "lr": 1e-2, "model": {**SMALL, "reg_lambda": 1e-2, **noise}},
        {"seed": 2, "regime": "tf"},
    ]


def _config(root: Path, name: str, core: str, updates: int, **overrides):
    values = {
        "out": str(root / name),
        "core": core,
        "regime": "ss",
        "ss_slope": 0.99,
        "epochs": max(1, updates // 4),
        "batches_per_epoch": min(updates, 4),
        "batch_size": 8,
        "lr": 3e-3,
        "model": dict(SMALL),
        "tensorboard": False,
        "eval_every": 10**6,
    }
    return preset_config("tiny", **{**values, **overrides})


def differences(core: str, updates: int) -> tuple[float, float]:
    """Largest absolute and relative weight difference, group member against solo run."""
    data = _data()
    with tempfile.TemporaryDirectory() as name:
        root = Path(name)
        members = _members(core)
        group = GroupTrainer(
            [
                Trainer(_config(root, f"g{i}", core, updates, **m), data, data)
                for i, m in enumerate(members)
            ]
        )
        group.fit()
        worst_abs = worst_rel = 0.0
        for i, member in enumerate(members):
            solo = Trainer(_config(root, f"s{i}", core, updates, **member), data, data)
            solo.fit()
            a, b = group.members[i].trainer.model.state_dict(), solo.model.state_dict()
            for key in a:
                diff = float((a[key] - b[key]).abs().max())
                worst_abs = max(worst_abs, diff)
                worst_rel = max(worst_rel, diff / max(float(b[key].abs().max()), 1e-12))
    return worst_abs, worst_rel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--cores", nargs="+", default=list(CORES))
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("| core | updates | max abs diff | max rel diff |\n|---|---|---|---|")
    for core in args.cores:
        for updates in args.updates:
            worst_abs, worst_rel = differences(core, updates)
            print(f"| {core} | {updates} | {worst_abs:.2e} | {worst_rel:.2e} |", flush=True)


if __name__ == "__main__":
    main()
