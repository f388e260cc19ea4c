"""The warmup paper's long-term-memory benchmarks, with and without warmup, for five cells.

Grids (every run: GRU, LSTM, BRC, nBRC, GateL0RD; without warmup and with the paper's warmup,
100 steps; several seeds):

* ``supervised``: copy_first_input T = 100 and T = 300, denoising T = 100 (pad 5), with the test
  MSE and the VAA after every epoch (the paper's Figure 1), plus the double-layer GRU with partial
  warmup on copy T = 100;
* ``tmaze``: the T-maze with a DRQN agent, the episode at which the greedy policy first becomes
  optimal (the paper's Figure 2, right).

Each run writes one JSON file under ``--out`` (a finished run is skipped on a second call, so an
interrupted grid resumes); ``report`` gathers them into ``docs/results/warmup.json`` and the
figures. The default budget is a CPU smoke test (see ``docs/results/warmup.md``)::

    nice -n 10 python examples/warmup_benchmarks.py supervised --out /work/runs/warmup
    nice -n 10 python examples/warmup_benchmarks.py tmaze --out /work/runs/warmup
    python examples/warmup_benchmarks.py report --out /work/runs/warmup --docs docs/results
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mbplan.benchmarks_memory import (
    CELLS,
    DRQNConfig,
    SupervisedConfig,
    train_drqn,
    train_supervised,
)
from mbplan.training.config import WarmupConfig
from mbplan.training.run_directory import write_json_atomic

CELL_ORDER = ("gru", "lstm", "brc", "nbrc", "gatel0rd")
WARMUP = WarmupConfig(steps=100)  # the paper's defaults
NO_WARMUP = WarmupConfig(steps=0)


SUPERVISED_TASKS = {  # label -> task settings
    "copy100": {"task": "copy", "length": 100, "epochs": 6, "n_train": 1280},
    "denoise100": {"task": "denoising", "length": 100, "epochs": 6, "n_train": 1280},
    "copy300": {"task": "copy", "length": 300, "epochs": 3, "n_train": 640},
}


def supervised_run(label: str, cell: str, warm: bool, seed: int) -> tuple[str, SupervisedConfig]:
    """(name, config) of one supervised run; ``cell`` "gru-double" is the double-layer GRU."""
    config = SupervisedConfig(
        cell=cell.removesuffix("-double"),
        double=cell.endswith("-double"),
        n_test=500,
        vaa_steps=1000,
        vaa_estimates=2,
        warmup=WARMUP if warm else NO_WARMUP,
        seed=seed,
        **SUPERVISED_TASKS[label],
    )
    return f"{label}_{cell}_{'warm' if warm else 'cold'}_s{seed}", config


def supervised_grid(seeds: int) -> list[tuple[str, SupervisedConfig]]:
    """(name, config) of every supervised run, most important first.

    A grid cut short by the budget still holds a complete comparison: copy T=100 seed 0, the
    double-layer GRU with partial warmup (the paper's precision fix), denoising, more copy seeds,
    copy T=300.
    """

    def cells(label: str, seed: int) -> list[tuple[str, SupervisedConfig]]:
        return [supervised_run(label, c, w, seed) for c in CELL_ORDER for w in (False, True)]

    runs = cells("copy100", 0) + [supervised_run("copy100", "gru-double", True, 0)]
    runs += cells("denoise100", 0)
    for seed in range(1, seeds):
        runs += cells("copy100", seed) + [supervised_run("copy100", "gru-double", True, seed)]
    return runs + cells("copy300", 0)


def tmaze_grid(seeds: int) -> list[tuple[str, DRQNConfig]]:
    """(name, config) of every T-maze run, seed 0 of every cell first."""
    runs = []
    for seed in range(seeds):
        for cell in CELL_ORDER:
            for warm in (False, True):
                config = DRQNConfig(
                    cell=cell,
                    length=5,
                    episodes=200,
                    warmup=WARMUP if warm else NO_WARMUP,
                    seed=seed,
                )
                runs.append((f"tmaze5_{cell}_{'warm' if warm else 'cold'}_s{seed}", config))
    return runs


def run_grid(grid: list[tuple[str, Any]], out: Path, train) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for index, (name, config) in enumerate(grid):
        path = out / f"{name}.json"
        if path.exists():
            continue
        started = time.perf_counter()
        result = train(config)
        result["name"] = name
        write_json_atomic(path, result)
        print(
            f"[{index + 1}/{len(grid)}] {name}: {time.perf_counter() - started:.0f} s",
            flush=True,
        )


def _label(result: dict[str, Any]) -> tuple[str, str, bool]:
    task, cell, warm, _ = result["name"].split("_")
    return task, cell, warm == "warm"


def _figures(results: list[dict[str, Any]], docs: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = dict(zip([*CELL_ORDER, "gru-double"], plt.cm.tab10.colors, strict=False))
    written = []
    supervised = [r for r in results if "epochs" in r]
    for task in ("copy100", "denoise100", "copy300"):
        runs = [r for r in supervised if _label(r)[0] == task]
        if not runs:
            continue
        figure, (mse_axis, vaa_axis) = plt.subplots(1, 2, figsize=(11, 4))
        for result in runs:
            _, cell, warm = _label(result)
            epochs = [row["epoch"] for row in result["epochs"]]
            style = "-" if warm else "--"
            label = f"{cell} {'warmup' if warm else 'no warmup'}"
            mse = [row["test_mse"] for row in result["epochs"]]
            vaas = [row["vaa"] for row in result["epochs"]]
            mse_axis.plot(epochs, mse, style, color=colours[cell], label=label, alpha=0.8)
            vaa_axis.plot(epochs, vaas, style, color=colours[cell], alpha=0.8)
        handles, labels = mse_axis.get_legend_handles_labels()
        unique = dict(zip(labels, handles, strict=True))
        mse_axis.legend(unique.values(), unique.keys(), fontsize=7, ncol=2)
        mse_axis.set(xlabel="epoch", ylabel="test MSE", yscale="log", title=f"{task}: test MSE")
        vaa_axis.set(xlabel="epoch", ylabel="VAA", title=f"{task}: VAA (1000 steps, 64 states)")
        figure.tight_layout()
        name = f"warmup_{task}_mse_vaa.png"
        figure.savefig(docs / name, dpi=110)
        plt.close(figure)
        written.append(name)

    # Figure 2: final test MSE with / without warmup, and T-maze episodes to optimality
    figure, (mse_axis, rl_axis) = plt.subplots(1, 2, figsize=(11, 4))
    tasks = [
        t
        for t in ("copy100", "denoise100", "copy300")
        if any(_label(r)[0] == t for r in supervised)
    ]
    width = 0.8 / max(len(tasks), 1)
    supervised_cells = (*CELL_ORDER, "gru-double")
    for offset, task in enumerate(tasks):
        for index, cell in enumerate(supervised_cells):
            for warm in (False, True):
                values = [
                    r["final_test_mse"] for r in supervised if _label(r) == (task, cell, warm)
                ]
                if not values:
                    continue
                x = index * 2 + (1 if warm else 0) + offset * width - 0.4
                mse_axis.scatter(
                    [x] * len(values),
                    values,
                    color=plt.cm.Set1.colors[offset],
                    marker="o" if warm else "x",
                    s=20,
                    label=f"{task} {'warmup' if warm else 'no warmup'}",
                )
    handles, labels = mse_axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    mse_axis.legend(unique.values(), unique.keys(), fontsize=7)
    mse_axis.set_xticks([2 * i + 0.5 for i in range(len(supervised_cells))], supervised_cells)
    mse_axis.set(ylabel="final test MSE", yscale="log", title="supervised: x no warmup, o warmup")
    tmaze = [r for r in results if "episode_optimality" in r]
    for index, cell in enumerate(CELL_ORDER):
        for warm in (False, True):
            runs = [r for r in tmaze if _label(r)[1:] == (cell, warm)]
            if not runs:
                continue
            budget = runs[0]["config"]["episodes"]
            reached = [r["episode_optimality"] for r in runs if r["episode_optimality"] is not None]
            never = len(runs) - len(reached)
            x = index * 2 + (1 if warm else 0)
            mean = np.mean(reached + [budget] * never)  # a lower bound when some never reached
            rl_axis.bar(x, mean, color=colours[cell], alpha=0.9 if warm else 0.45)
            rl_axis.scatter([x] * len(reached), reached, color="k", s=12, zorder=3)
            if never:
                rl_axis.scatter(
                    [x] * never,
                    [budget] * never,
                    color="r",
                    marker="^",
                    s=30,
                    zorder=3,
                    label=f"not optimal within {budget} episodes",
                )
    handles, labels = rl_axis.get_legend_handles_labels()
    if handles:
        unique = dict(zip(labels, handles, strict=True))
        rl_axis.legend(unique.values(), unique.keys(), fontsize=7, loc="upper right")
    rl_axis.set_xticks([2 * i + 0.5 for i in range(len(CELL_ORDER))], CELL_ORDER)
    rl_axis.set(
        ylabel="episodes to an optimal policy (bar: mean)",
        title="T-maze L=5 (left bar: no warmup, right: warmup)",
    )
    figure.tight_layout()
    figure.savefig(docs / "warmup_comparison.png", dpi=110)
    plt.close(figure)
    written.append("warmup_comparison.png")
    return written


def report(out: Path, docs: Path) -> None:
    results = [json.loads(path.read_text()) for path in sorted(out.glob("*.json"))]
    docs.mkdir(parents=True, exist_ok=True)
    rows = []
    for result in results:
        task, cell, warm = _label(result)
        row: dict[str, Any] = {
            "name": result["name"],
            "task": task,
            "cell": cell,
            "warmup": warm,
            "seed": result["config"]["seed"],
            "seconds": result["seconds"],
            "warmup_seconds": result["warmup_seconds"],
        }
        if "epochs" in result:
            row.update(
                final_test_mse=result["final_test_mse"],
                best_test_mse=result["best_test_mse"],
                vaa_initial=result["epochs"][0]["vaa"],
                vaa_final=result["epochs"][-1]["vaa"],
                test_mse_per_epoch=[r["test_mse"] for r in result["epochs"]],
                vaa_per_epoch=[r["vaa"] for r in result["epochs"]],
            )
        else:
            row.update(
                episode_optimality=result["episode_optimality"],
                episode_budget=result["config"]["episodes"],
                vaa_start=result["vaa_start"],
                vaa_end=result["vaa_end"],
            )
        if result["warmup"]:
            row["warmup_vaa_star_last"] = result["warmup"][-1]["vaa_star"]
        rows.append(row)
    figures = _figures(results, docs)
    write_json_atomic(
        docs / "warmup.json", {"runs": rows, "figures": figures, "torch": torch.__version__}
    )
    print(f"{len(rows)} runs -> {docs / 'warmup.json'}; figures {figures}")
    print(markdown_tables(rows))


def _mean(values: list[float]) -> str:
    return f"{np.mean(values):.3f}" + (
        f" ({', '.join(f'{v:.3f}' for v in values)})" if len(values) > 1 else ""
    )


def markdown_tables(rows: list[dict[str, Any]]) -> str:
    """The results as markdown tables: supervised (per task) and T-maze."""
    lines = []
    for task in ("copy100", "denoise100", "copy300"):
        runs = [r for r in rows if r["task"] == task]
        if not runs:
            continue
        lines += [
            f"\n{task}: final test MSE (mean over seeds; per seed) / VAA at epoch 0 -> last\n",
            "| cell | no warmup: MSE | VAA | warmup: MSE | VAA | VAA* at the last warmup step |",
            "|---|---|---|---|---|---|",
        ]
        for cell in (*CELL_ORDER, "gru-double"):
            cells = []
            for warm in (False, True):
                part = [r for r in runs if r["cell"] == cell and r["warmup"] == warm]
                if not part:
                    cells += ["-", "-"]
                    continue
                cells.append(_mean([r["final_test_mse"] for r in part]))
                cells.append(
                    f"{np.mean([r['vaa_initial'] for r in part]):.3f} -> "
                    f"{np.mean([r['vaa_final'] for r in part]):.3f}"
                )
            warm_runs = [r for r in runs if r["cell"] == cell and r["warmup"]]
            star = [r["warmup_vaa_star_last"] for r in warm_runs if "warmup_vaa_star_last" in r]
            if any(c != "-" for c in cells):
                lines.append(f"| {cell} | {' | '.join(cells)} | {_mean(star) if star else '-'} |")
    runs = [r for r in rows if "episode_optimality" in r]
    if runs:
        lines += [
            "\nT-maze: episode of the first optimal greedy policy per seed (- : not within the "
            "budget) / VAA at the start -> end\n",
            "| cell | no warmup | VAA | warmup | VAA |",
            "|---|---|---|---|---|",
        ]
        for cell in CELL_ORDER:
            cells = []
            for warm in (False, True):
                part = sorted(
                    (r for r in runs if r["cell"] == cell and r["warmup"] == warm),
                    key=lambda r: r["seed"],
                )
                found = [
                    str(r["episode_optimality"]) if r["episode_optimality"] is not None else "-"
                    for r in part
                ]
                cells.append(", ".join(found) or "not run")
                cells.append(
                    f"{np.mean([r['vaa_start'] for r in part]):.3f} -> "
                    f"{np.mean([r['vaa_end'] for r in part]):.3f}"
                    if part
                    else "-"
                )
            lines.append(f"| {cell} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grid", choices=("supervised", "tmaze", "report"))
    parser.add_argument("--out", type=Path, required=True, help="folder of the per-run JSON files")
    parser.add_argument("--docs", type=Path, default=Path("docs/results"))
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--reverse", action="store_true", help="run the grid backwards (a second worker)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    order = -1 if args.reverse else 1
    if args.grid == "supervised":
        run_grid(supervised_grid(args.seeds)[::order], args.out, train_supervised)
    elif args.grid == "tmaze":
        run_grid(tmaze_grid(args.seeds)[::order], args.out, train_drqn)
    else:
        report(args.out, args.docs)
    return 0


if __name__ == "__main__":
    assert set(CELL_ORDER) == set(CELLS)
    sys.exit(main(sys.argv[1:]))
