"""VAA of trained world models: how multistable are the cores of the planning tasks' models?

For every run folder given: its ``best.pt`` model, its validation split, ``--sets`` sets of
``--states`` initial states (the core's state after random-length prefixes of real
(observation, action) sequences, see :mod:`mbplan.analysis.state_sampling`), each converged
``--steps`` steps under its own held input ``u ~ N(0, I)`` of the core's input size; the VAA of
every set (mean and spread) and VAA* per layer (``--untrained``: also of the same architecture
freshly initialised, for contrast) (200 steps, the periodic log of the official code),
next to the run's best validation MSE. Writes one JSON table::

    python examples/world_model_vaa.py RUN_DIR [RUN_DIR ...] --out vaa_world_models.json
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from mbplan.analysis import prefix_lengths, vaa, vaa_star, world_model_prefix_states
from mbplan.data.tensors import load_split
from mbplan.models import make_world_model
from mbplan.training.checkpoint import load_checkpoint, model_from_checkpoint
from mbplan.training.run_directory import RunDirectory, write_json_atomic


def measure(
    run_dir: Path, sets: int, states: int, steps: int, seed: int, untrained: bool = False
) -> dict:
    """VAA and VAA* of one run's best model (or of its architecture freshly initialised)."""
    run = RunDirectory(run_dir)
    config = run.read_config()
    payload = load_checkpoint(run.best_checkpoint)
    model = model_from_checkpoint(payload)
    if untrained:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = make_world_model(**payload["model_hparams"]).eval()
    data = load_split(config["data"], config["val_split"], config.get("subsets"))
    generator = torch.Generator().manual_seed(seed)
    index = torch.randint(0, len(data), (sets * states,), generator=generator)
    observations, actions = data.observations[index, :-1], data.actions[index]
    lengths = prefix_lengths(len(index), observations.shape[1], generator)
    with torch.no_grad():
        initial = world_model_prefix_states(model, observations, actions, lengths=lengths)
        initial = initial.view(sets, states, -1)
        values = vaa(model.core, initial, steps, generator=generator)
        stars = vaa_star(model.core, initial, 200, generator=generator)
    rows = run.read_metrics()
    return {
        "run": str(run_dir),
        "trained": not untrained,
        "core": payload["model_hparams"]["core"],
        "task": config["task"],
        "regime": config["regime"],
        "epochs": int(rows[-1]["epoch"]) if rows else 0,
        "best_val_mse": None if untrained else min((r["val_mse"] for r in rows), default=None),
        "vaa_mean": float(values.mean()),
        "vaa_per_set": [float(v) for v in values],
        "vaa_star_per_layer": [float(v) for v in stars.mean(0)],
        "sets": sets,
        "states": states,
        "steps": steps,
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--sets", type=int, default=10)
    parser.add_argument("--states", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--untrained", action="store_true", help="also measure each architecture at initialisation"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    variants = (False, True) if args.untrained else (False,)
    table = [
        measure(run, args.sets, args.states, args.steps, args.seed, untrained)
        for run in args.runs
        for untrained in variants
    ]
    for row in table:
        print(
            f"{row['run']} ({'trained' if row['trained'] else 'untrained'}): {row['core']} "
            f"{row['task']} {row['regime']}, best val MSE {row['best_val_mse']}, "
            f"VAA {row['vaa_mean']:.3f}, "
            f"VAA* {row['vaa_star_per_layer']}"
        )
    write_json_atomic(args.out, {"runs": table})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
