"""RigLSTM generalisation benchmarks: train every variant on one task, test under the shift.

Trains LSTM, GRU, GateL0RD, the RIM-style baseline and RigLSTM (``tasks.VARIANTS``) for several
seeds on one task of ``tasks.py`` and writes ``results.json`` (resumable: finished runs are
skipped) with the test metrics, learning curves and wall times; ``--report`` then writes the
task's figure and its part of the machine-readable table into ``--docs``.

Usage::

    python examples/riglstm/run.py --task copying --updates 600 --seeds 0 1 2 --out runs/copying
    python examples/riglstm/run.py --task copying --out runs/copying --report --docs docs/results
    # a grid split over processes (different --variants, same settings), reported as one:
    python examples/riglstm/run.py --task digits --out runs/a --also runs/b --report

Sizes: RigLSTM variants have ``--cell-hidden`` units in each of their 6 cells; LSTM, GRU and
GateL0RD have ``6 * cell_hidden`` units in one cell. Adam at ``--lr`` for every variant
(default 1e-3: the document's 1e-4, ``RIGLSTM_LEARNING_RATE``, is for its much longer budgets),
gradient-norm clipping 1.0 (RIMs' default), GateL0RD's L0 term at ``--reg-lambda``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tasks import TASKS, VARIANTS, build_core  # the script's own folder

from mbplan.data.io import write_json  # atomic: temp file, then rename


def train_one(task_name: str, variant: str, seed: int, args: argparse.Namespace) -> dict:
    """Train one variant with one seed and evaluate it on every test (and validation) set.

    With ``args.eval_every`` > 0 the model is also evaluated every that many updates; where the
    task has validation sets, ``test_at_best_val`` holds, per test label, the test metrics of the
    evaluation whose validation headline metric was best for that label (the RIMs protocol).
    """
    task = TASKS[task_name]()
    data_rng = np.random.default_rng(1000 + seed)  # the same data for every variant
    next_batch, evals, validation = task.make_data(data_rng)
    torch.manual_seed(seed)  # weight initialisation (script, not library)
    model = task.make_model(build_core(variant, task.feature_size, args.cell_hidden))
    params = sum(p.numel() for p in model.parameters())
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    generator = torch.Generator().manual_seed(seed)
    batch_rng = np.random.default_rng(seed)
    curve, running, evaluations, start = [], [], [], time.perf_counter()
    eval_seconds = 0.0
    model.train()
    for update in range(1, args.updates + 1):
        loss, gates = task.loss(model, next_batch(batch_rng, args.batch), generator)
        total = loss if gates is None else loss + args.reg_lambda * gates.mean()
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        running.append(float(loss.detach()))
        if update % args.log_every == 0 or update == args.updates:
            curve.append([update, float(np.mean(running))])
            running = []
            print(f"{task_name} {variant} seed {seed} update {update} loss {curve[-1][1]:.4f}")
        if (args.eval_every and update % args.eval_every == 0) or update == args.updates:
            started = time.perf_counter()
            model.eval()
            evaluations.append(
                {
                    "update": update,
                    "test": {label: task.evaluate(model, data) for label, data in evals.items()},
                    "val": {
                        label: task.evaluate(model, data) for label, data in validation.items()
                    },
                }
            )
            model.train()
            eval_seconds += time.perf_counter() - started
    train_seconds = time.perf_counter() - start - eval_seconds
    result = {
        "variant": variant,
        "seed": seed,
        "parameters": params,
        "train_seconds": train_seconds,
        "eval_seconds": eval_seconds,
        "curve": curve,
        "test": evaluations[-1]["test"],
        "evaluations": evaluations,
    }
    if validation:
        result["test_at_best_val"] = best_by_validation(evaluations, headline(task_name))
    return result


def best_by_validation(evaluations: list[dict], metric: str) -> dict[str, dict]:
    """Per test label, the test metrics (and update) where the validation ``metric`` was best.

    Args:
        evaluations: rows ``{"update", "test": {label: metrics}, "val": {label: metrics}}`` in
            update order.
        metric: the headline metric; higher is better unless it is in ``LOWER_IS_BETTER``.

    Returns:
        ``{label: {**test metrics, "update": u, "val_" + metric: value}}``; the first
        evaluation wins ties.
    """
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0
    chosen = {}
    for label in evaluations[0]["val"]:
        best = max(evaluations, key=lambda row: sign * row["val"][label][metric])
        chosen[label] = {
            **best["test"][label],
            "update": best["update"],
            f"val_{metric}": best["val"][label][metric],
        }
    return chosen


#: Headline metrics where lower is better (the others: higher is better).
LOWER_IS_BETTER = ("bce",)


def headline(task_name: str) -> str:
    """The metric shown in the tables and figures."""
    return {"copying": "copy_accuracy", "digits": "accuracy", "balls": "bce"}[task_name]


def report(results: dict, docs: Path, name: str | None = None) -> None:
    """The figure ``riglstm_<name>.png`` and the entry ``name`` in ``riglstm.json``.

    ``name`` defaults to the task's; with evaluations during training also
    ``riglstm_<name>_curves.png`` (the test metric over updates).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    task, runs = results["task"], results["runs"]
    name = name or task
    metric = headline(task)
    variants = [v for v in VARIANTS if any(r["variant"] == v for r in runs)]
    labels = list(runs[0]["test"])
    table: dict[str, Any] = {}
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        values = np.array([[r["test"][label][metric] for label in labels] for r in mine])
        table[variant] = {
            "seeds": [r["seed"] for r in mine],
            "parameters": mine[0]["parameters"],
            "train_seconds_mean": float(np.mean([r["train_seconds"] for r in mine])),
            "final_train_loss_mean": float(np.mean([r["curve"][-1][1] for r in mine])),
            metric: {
                label: {"mean": float(values[:, i].mean()), "std": float(values[:, i].std())}
                for i, label in enumerate(labels)
            },
        }
        if "test_at_best_val" in mine[0]:
            chosen = np.array(
                [[r["test_at_best_val"][label][metric] for label in labels] for r in mine]
            )
            table[variant][f"{metric}_at_best_val"] = {
                label: {
                    "mean": float(chosen[:, i].mean()),
                    "std": float(chosen[:, i].std()),
                    "updates": [r["test_at_best_val"][label]["update"] for r in mine],
                }
                for i, label in enumerate(labels)
            }
        if task == "balls":
            steps = np.array([[r["test"][label]["bce_per_step"] for label in labels] for r in mine])
            table[variant]["bce_per_step_mean"] = {
                label: steps[:, i].mean(0).tolist() for i, label in enumerate(labels)
            }
            table[variant]["flat_bce"] = {
                label: mine[0]["test"][label]["flat_bce"] for label in labels
            }
    panels = 3 if task == "balls" else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.5))
    for variant in variants:
        mine = [r for r in runs if r["variant"] == variant]
        curve = np.array([r["curve"] for r in mine])  # (seeds, points, 2)
        axes[0].plot(curve[0, :, 0], curve[:, :, 1].mean(0), label=variant)
        means = [table[variant][metric][label]["mean"] for label in labels]
        stds = [table[variant][metric][label]["std"] for label in labels]
        axes[1].errorbar(range(len(labels)), means, yerr=stds, marker="o", capsize=3, label=variant)
        if task == "balls":
            per_step = table[variant]["bce_per_step_mean"][labels[-1]]
            axes[2].plot(range(1, len(per_step) + 1), per_step, label=variant)
    axes[0].set(xlabel="update", ylabel="training loss (mean over seeds)", title="training")
    axes[0].set_yscale("log")
    chance = {"copying": 1 / 8, "digits": 1 / 10}.get(task)
    if chance is not None:
        axes[1].axhline(chance, color="gray", linestyle=":", label="chance")
    axes[1].set_xticks(range(len(labels)), labels)
    axes[1].set(ylabel=metric, title=f"test ({results['shift']})")
    if task == "balls":
        flat = table[variants[0]]["flat_bce"][labels[-1]]
        axes[2].axhline(flat, color="gray", linestyle=":", label="flat (mean intensity)")
        axes[2].set(xlabel="closed-loop step", ylabel="BCE per pixel", title=labels[-1])
        axes[2].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    docs.mkdir(parents=True, exist_ok=True)
    fig.savefig(docs / f"riglstm_{name}.png", dpi=110)
    plt.close(fig)
    if len(runs[0].get("evaluations", [])) > 1:
        plot_test_curves(results, variants, labels, metric, docs / f"riglstm_{name}_curves.png")
    path = docs / "riglstm.json"
    combined = json.loads(path.read_text()) if path.exists() else {}
    combined[name] = {
        "task": task,
        "settings": results["settings"],
        "metric": metric,
        "variants": table,
    }
    write_json(path, combined)
    print_table(table, variants, labels, metric)
    if f"{metric}_at_best_val" in table[variants[0]]:
        print(f"at the evaluation of best validation {metric}, per label:")
        print_table(table, variants, labels, f"{metric}_at_best_val")


def print_table(table: dict, variants: list[str], labels: list[str], metric: str) -> None:
    """One markdown row per variant: size, time, final training loss, ``metric`` per label."""
    print(f"| variant | parameters | train s | final train loss | {' | '.join(labels)} |")
    print("|---|---|---|---|" + "---|" * len(labels))
    for variant in variants:
        row = table[variant]
        cells = [f"{row[metric][x]['mean']:.3f} ± {row[metric][x]['std']:.3f}" for x in labels]
        print(
            f"| {variant} | {row['parameters']} | {row['train_seconds_mean']:.0f} | "
            f"{row['final_train_loss_mean']:.3f} | {' | '.join(cells)} |"
        )


def plot_test_curves(
    results: dict, variants: list[str], labels: list[str], metric: str, path: Path
) -> None:
    """The headline test metric over updates, one panel per test set, mean over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(labels), figsize=(3.6 * len(labels), 3.2), sharey=True)
    for variant in variants:
        mine = [r for r in results["runs"] if r["variant"] == variant]
        updates = [row["update"] for row in mine[0]["evaluations"]]
        for axis, label in zip(axes, labels, strict=True):
            values = np.array(
                [[row["test"][label][metric] for row in r["evaluations"]] for r in mine]
            )
            axis.plot(updates, values.mean(0), label=variant)
    for axis, label in zip(axes, labels, strict=True):
        axis.set(xlabel="update", title=f"test {label}")
    axes[0].set_ylabel(f"{metric} (mean over seeds)")
    axes[-1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


SHIFTS = {
    "copying": "train T=10, test longer dormant phases",
    "digits": "train 8x8, test larger resolutions",
    "balls": "train 4 balls, 20-step closed-loop BCE",
}


def main() -> None:
    """Parse the options; train the missing runs, or write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--updates", type=int, default=600, help="Adam updates per run")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--cell-hidden", type=int, default=8, help="units per RigLSTM cell")
    parser.add_argument("--reg-lambda", type=float, default=1e-3, help="GateL0RD's L0 weight")
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument(
        "--eval-every", type=int, default=0, help="evaluate every N updates (0: at the end only)"
    )
    parser.add_argument("--out", type=Path, required=True, help="run folder (results.json)")
    parser.add_argument("--report", action="store_true", help="write figure and table only")
    parser.add_argument("--docs", type=Path, default=Path("docs/results"))
    parser.add_argument("--table", help="name of the entry in riglstm.json and the figures")
    parser.add_argument(
        "--also", nargs="*", type=Path, default=[], help="with --report: more run folders"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)

    path = args.out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else None
    if args.report:
        if results is None:
            parser.error(f"--report: no results at {path}")
        for folder in args.also:  # runs of the same grid trained in other processes
            other = json.loads((folder / "results.json").read_text())
            if (other["task"], other["settings"]) != (results["task"], results["settings"]):
                parser.error(f"--also: {folder} holds runs of another task or settings")
            results["runs"] += other["runs"]
        report(results, args.docs, args.table)
        return
    settings = {k: v for k, v in vars(args).items() if k in ("updates", "batch", "lr")}
    settings |= {"cell_hidden": args.cell_hidden, "reg_lambda": args.reg_lambda}
    if args.eval_every:
        settings["eval_every"] = args.eval_every
    if results is None:
        results = {"task": args.task, "shift": SHIFTS[args.task], "settings": settings, "runs": []}
    elif results["settings"] != settings:
        parser.error(f"--out: {path} holds runs with other settings {results['settings']}")
    done = {(r["variant"], r["seed"]) for r in results["runs"]}
    for seed in args.seeds:
        for variant in args.variants:
            if (variant, seed) in done:
                continue
            results["runs"].append(train_one(args.task, variant, seed, args))
            write_json(path, results)


if __name__ == "__main__":
    main()
