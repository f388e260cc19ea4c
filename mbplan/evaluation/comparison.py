"""Compare evaluated runs: one table (mean and spread over seeds) and figures for several models.

Input is a list of ``evaluate_run`` result dicts (one per run); runs are grouped by (core, regime)
and the seeds of a group are summarised by their mean and sample standard deviation.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mbplan.evaluation import plots
from mbplan.evaluation.reappearance import VAL_REAPPEARANCE
from mbplan.training.run_directory import RunDirectory, write_json_atomic, write_text_atomic

#: regime names as shown in tables.
REGIME_NAMES = {"tf": "teacher forcing", "ss": "scheduled sampling"}


def group_label(result: dict[str, Any]) -> str:
    """Label of a run's group: ``"<core> (<regime>)"``."""
    return f"{result['run']['core']} ({result['run']['regime']})"


def group_results(results: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Group results by ``group_label``, keeping first-seen order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for result in results:
        groups.setdefault(group_label(result), []).append(result)
    return groups


def mean_spread(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    array = np.asarray(values, dtype=np.float64)
    spread = float(array.std(ddof=1)) if array.size > 1 else 0.0
    return float(array.mean()), spread


def summarize(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per group: seeds, N-step MSE, last-step MSE and gate statistics, mean and std.

    Returns:
        Rows with ``label``, ``core``, ``regime``, ``seeds``, ``horizon``, ``mse`` and
        ``mse_std``, ``last_step_mse`` and ``last_step_mse_std``, for gated cores
        ``gate_rate``, ``open_step_fraction``, ``dims_used``, ``openings_per_sequence`` (means),
        and where the results hold a ``reappearance`` entry (Shepherd) ``reappearance_mse`` and
        ``reappearance_mse_std``.
    """
    rows = []
    for label, members in group_results(results).items():
        mse, mse_std = mean_spread([m["mse"] for m in members])
        last, last_std = mean_spread([m["mse_per_step"][-1] for m in members])
        row: dict[str, Any] = {
            "label": label,
            "core": members[0]["run"]["core"],
            "regime": members[0]["run"]["regime"],
            "seeds": [m["run"]["seed"] for m in members],
            "horizon": members[0]["horizon"],
            "mse": mse,
            "mse_std": mse_std,
            "last_step_mse": last,
            "last_step_mse_std": last_std,
        }
        scored = [m["reappearance"]["mse"] for m in members if m.get("reappearance")]
        if scored:
            row["reappearance_mse"], row["reappearance_mse_std"] = mean_spread(scored)
        gated = [m["gates"] for m in members if m.get("gates")]
        if gated:
            for key in ("gate_rate", "open_step_fraction", "dims_used", "openings_per_sequence"):
                row[key] = float(np.mean([g[key] for g in gated]))
        rows.append(row)
    return rows


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """Render ``summarize`` rows as a Markdown table.

    A column of the reappearance error is added when any row has one (Shepherd).
    """
    reappearance = any("reappearance_mse" in row for row in rows)
    extra = " reappearance error (mean ± std) |" if reappearance else ""
    lines = [
        "| core | regime | seeds | N | N-step MSE (mean ± std) | last-step MSE (mean ± std) "
        "| gate rate | openings / sequence |" + extra,
        "|---|---|---|---|---|---|---|---|" + ("---|" if reappearance else ""),
    ]
    for row in rows:
        gate_rate = f"{row['gate_rate']:.4f}" if "gate_rate" in row else "–"
        openings = f"{row['openings_per_sequence']:.2f}" if "openings_per_sequence" in row else "–"
        line = (
            f"| {row['core']} | {REGIME_NAMES.get(row['regime'], row['regime'])} "
            f"| {len(row['seeds'])} | {row['horizon']} "
            f"| {row['mse']:.3g} ± {row['mse_std']:.2g} "
            f"| {row['last_step_mse']:.3g} ± {row['last_step_mse_std']:.2g} "
            f"| {gate_rate} | {openings} |"
        )
        if reappearance:
            line += (
                f" {row['reappearance_mse']:.3g} ± {row['reappearance_mse_std']:.2g} |"
                if "reappearance_mse" in row
                else " – |"
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


def line_styles(results: Sequence[dict[str, Any]]) -> dict[str, dict[str, object]]:
    """One colour per core, solid for teacher forcing and dashed for scheduled sampling."""
    cores = list(dict.fromkeys(result["run"]["core"] for result in results))
    styles = {}
    for label, members in group_results(results).items():
        run = members[0]["run"]
        styles[label] = {
            "color": f"C{cores.index(run['core']) % 10}",
            "linestyle": "--" if run["regime"] == "ss" else "-",
        }
    return styles


def metric_curve(rows: Sequence[dict[str, Any]], key: str) -> tuple[list[float], list[float]]:
    """``(epochs, values)`` of ``key`` over a run's metrics rows, rows without a value left out."""
    kept = [row for row in rows if row.get(key) is not None]
    return [row["epoch"] for row in kept], [float(row[key]) for row in kept]


def learning_curves(
    results: Sequence[dict[str, Any]], key: str = "val_mse"
) -> dict[str, list[tuple[list[float], list[float]]]]:
    """Curves of the metrics row ``key`` per group, read from each run's ``metrics.jsonl``.

    Groups whose runs never logged ``key`` are left out.
    """
    curves: dict[str, list[tuple[list[float], list[float]]]] = {}
    for label, members in group_results(results).items():
        for member in members:
            curve = metric_curve(RunDirectory(member["run"]["run_dir"]).read_metrics(), key)
            if curve[0]:
                curves.setdefault(label, []).append(curve)
    return curves


def write_comparison(
    results: Sequence[dict[str, Any]],
    out_dir: str | os.PathLike[str],
    title: str = "",
    prefix: str = "",
) -> dict[str, Path]:
    """Write the table (``comparison.md``, ``.json``) and the figures of a comparison.

    Files: ``comparison.md``, ``comparison.json``, ``step_errors.png``, ``learning_curves.png``,
    and ``reappearance_curves.png`` where the runs logged ``val_reappearance`` (Shepherd).

    Args:
        results: ``evaluate_run`` dicts.
        out_dir: destination folder (created).
        title: figure title prefix.
        prefix: prefix of every file name (e.g. ``"billiard_"``).

    Returns:
        Name -> path of the files written.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = summarize(results)
    step_curves = {
        label: [m["mse_per_step"] for m in members]
        for label, members in group_results(results).items()
    }
    files = {
        "table": write_text_atomic(out_dir / f"{prefix}comparison.md", markdown_table(rows)),
        "json": write_json_atomic(
            out_dir / f"{prefix}comparison.json", {"rows": rows, "runs": results}
        ),
        "step_errors": plots.plot_step_errors(
            step_curves,
            out_dir / f"{prefix}step_errors.png",
            title=f"{title} error per step".strip(),
            styles=line_styles(results),
        ),
        "learning_curves": plots.plot_learning_curves(
            learning_curves(results),
            out_dir / f"{prefix}learning_curves.png",
            title=f"{title} validation error".strip(),
            styles=line_styles(results),
        ),
    }
    reappearance = learning_curves(results, key=VAL_REAPPEARANCE)
    if reappearance:
        files["reappearance_curves"] = plots.plot_learning_curves(
            reappearance,
            out_dir / f"{prefix}reappearance_curves.png",
            ylabel="sheep-reappearance error (validation)",
            title=f"{title} reappearance error".strip(),
            styles=line_styles(results),
        )
    return files
