"""The results table of a grid sweep: one row per grid point, from each run's metrics.

``OUT/sweep.json`` holds the rows as data, ``OUT/sweep.md`` the same rows as a Markdown table and
``OUT/sweep.csv`` as CSV: the point's run folder, one column per varying field, the best
validation MSE and its epoch, the last validation MSE, the epochs trained, the run's status
(``done``, ``failed``, ``unfinished`` or ``new``) and, when the run was evaluated, its N-step
autoregressive MSE (``mbplan.evaluation.report.evaluate_run`` of the best checkpoint, as
``mbplan compare`` reports it) with ``N``. All are written atomically.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mbplan.training.grid import GridPoint, value_text
from mbplan.training.run_directory import RunDirectory, write_json_atomic, write_text_atomic

JSON_FILE = "sweep.json"
TABLE_FILE = "sweep.md"
CSV_FILE = "sweep.csv"


def point_row(
    point: GridPoint, failed: bool = False, evaluation: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """One row of the table: the point's values and the best validation of its run.

    Args:
        point: the grid point (its run folder is ``point.config.out``).
        failed: whether a non-finite loss stopped the run.
        evaluation: the run's ``evaluate_run`` dict (``None``: not evaluated).

    Returns:
        ``run``, the varying fields, ``best_val_mse`` and ``best_epoch`` (``None`` before the
        first validation), ``final_val_mse``, ``epochs`` (trained), ``status``, and
        ``n_step_mse`` with its ``horizon`` (``None`` when not evaluated).
    """
    rows = RunDirectory(point.config.out).read_metrics() if Path(point.config.out).is_dir() else []
    scored = [row for row in rows if _finite(row.get("val_mse"))]
    best = min(scored, key=lambda row: row["val_mse"]) if scored else None
    epochs = int(rows[-1]["epoch"]) if rows else 0
    if failed:
        status = "failed"
    elif not rows:
        status = "new"
    else:
        status = "done" if epochs >= point.config.epochs else "unfinished"
    return {
        "run": point.name,
        **point.assignment,
        "best_val_mse": None if best is None else float(best["val_mse"]),
        "best_epoch": None if best is None else int(best["epoch"]),
        "final_val_mse": float(scored[-1]["val_mse"]) if scored else None,
        "epochs": epochs,
        "status": status,
        "n_step_mse": None if evaluation is None else float(evaluation["mse"]),
        "horizon": None if evaluation is None else int(evaluation["horizon"]),
    }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return value_text(value)


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a Markdown table, columns in the rows' key order."""
    if not rows:
        return "(no grid points)\n"
    columns = list(rows[0])
    lines = [
        "| " + " | ".join(columns) + " |",
        "| " + " | ".join("---" for _ in columns) + " |",
    ]
    lines += ["| " + " | ".join(_cell(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as CSV (a header line; empty cells for ``None``; tuples joined by ``+``)."""
    if not rows:
        return ""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(list(rows[0]))
    for row in rows:
        writer.writerow(["" if v is None else value_text(v) for v in row.values()])
    return text.getvalue()


def write_sweep_table(
    points: Sequence[GridPoint],
    root: str | Path,
    failed: Sequence[str] = (),
    evaluations: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Path]:
    """Write ``root/sweep.json``, ``root/sweep.md`` and ``root/sweep.csv`` for the grid's points.

    Args:
        points: the grid (rows in its order).
        root: the sweep folder.
        failed: run folders stopped by a non-finite loss (relative or absolute).
        evaluations: point name -> its run's ``evaluate_run`` dict, for those evaluated.

    Returns:
        ``{"table": sweep.md, "json": sweep.json, "csv": sweep.csv}``.
    """
    failed_set = {os.path.abspath(path) for path in failed}
    evaluations = evaluations or {}
    rows = [
        point_row(
            point, os.path.abspath(point.config.out) in failed_set, evaluations.get(point.name)
        )
        for point in points
    ]
    fields = list(points[0].assignment) if points else []
    json_path = write_json_atomic(Path(root) / JSON_FILE, {"fields": fields, "rows": rows})
    table_path = write_text_atomic(Path(root) / TABLE_FILE, markdown_table(rows))
    csv_path = write_text_atomic(Path(root) / CSV_FILE, csv_table(rows))
    return {"table": table_path, "json": json_path, "csv": csv_path}
