"""MPC success of a grid of trained RRC runs under planner variants (``docs/results/rrc.md``).

For every run folder in ``GRID`` with a best checkpoint (found by its ``config.json``; all of
them unless ``--cores`` narrows the cores) and every variant: ``--episodes`` episodes (reset seeds
``--seed ..``, the same for every run and variant) planned with the run's best checkpoint:

* ``blitz``: the task defaults (iCEM population 40, horizon 30, 3 iterations);
* ``mask_terminal``: the same, with the steps after a predicted termination costing nothing;
* ``pop200_it5_h40``: a larger planner (population 200, 5 iterations, horizon 40);
* ``h50``: horizon 50.

Writes ``OUT`` (default ``GRID/plan_variants.json``): variant -> core -> one success rate per
run (episodes solved at reset left out), in seed order, and prints mean ± std per core::

    python examples/rrc_planner_variants.py runs/rrc60k --episodes 100 --seed 1000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from mbplan.commands.plan import plan_episodes
from mbplan.evaluation.report import load_run_model
from mbplan.training.run_directory import trained_runs, write_json_atomic
from planners.tasks import summarize_success

ENV_ID = "mbplan/RobotRemoteControl-v0"

#: variant name -> ``plan_episodes`` options.
VARIANTS: dict[str, dict[str, Any]] = {
    "blitz": {},
    "mask_terminal": {"mask_terminal": True},
    "pop200_it5_h40": {"planner_options": {"population": 200, "iterations": 5, "horizon": 40}},
    "h50": {"planner_options": {"horizon": 50}},
}


def grid_runs(grid: Path, cores: list[str] | None = None) -> list[tuple[str, int, Path]]:
    """``(core, seed, folder)`` of the grid's runs with a best checkpoint, by core, seed."""
    runs = trained_runs(grid, cores=cores)
    if not runs:
        raise SystemExit(f"no run folders with best.pt in {grid}")
    return runs


def planner_variants(
    grid: Path,
    variants: list[str],
    episodes: int,
    seed: int,
    out: Path,
    cores: list[str] | None = None,
) -> dict[str, dict[str, list[float]]]:
    """Plan every run of ``grid`` under every variant; write and return the success rates."""
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; expected some of {sorted(VARIANTS)}")
    results: dict[str, dict[str, list[float]]] = {}
    for core, run_seed, folder in grid_runs(grid, cores):
        model, _ = load_run_model(folder, which="best", device="cpu")
        model.eval()
        for name in variants:
            start = time.perf_counter()
            rate = summarize_success(
                plan_episodes(ENV_ID, model, episodes=episodes, seed=seed, **VARIANTS[name])
            ).rate
            results.setdefault(name, {}).setdefault(core, []).append(rate)
            seconds = time.perf_counter() - start
            print(f"{core} seed {run_seed} {name}: {rate:.2f} ({seconds:.0f} s)", flush=True)
    write_json_atomic(out, results)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grid", type=Path, help="folder of run folders (mbplan compare --out)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), help="planner variants")
    parser.add_argument("--cores", nargs="+", default=None, help="only these cores")
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="first episode reset seed")
    parser.add_argument("--out", type=Path, default=None, help="JSON file written")
    args = parser.parse_args(argv)
    out = args.out or args.grid / "plan_variants.json"
    results = planner_variants(args.grid, args.variants, args.episodes, args.seed, out, args.cores)
    for name, by_core in results.items():
        for core, rates in by_core.items():
            spread = np.std(rates, ddof=1) if len(rates) > 1 else 0.0
            print(f"{name} {core}: {np.mean(rates):.3f} ± {spread:.3f} over {len(rates)} runs")


if __name__ == "__main__":
    main()
