"""The results table of a grid sweep: one row per grid point, from each run's metrics.

``OUT/sweep.json`` holds the rows as data, ``OUT/sweep.md`` the same rows as a Markdown table:
the point's run folder, one column per varying field, the best validation MSE and its epoch,
the epochs trained and the run's status (``done``, ``failed``, ``unfinished`` or ``new``).
Both are written atomically.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mbplan.training.grid import GridPoint, value_text
from mbplan.training.run_directory import RunDirectory, write_json_atomic, write_text_atomic

JSON_FILE = "sweep.json"
TABLE_FILE = "sweep.md"


def point_row(point: GridPoint, failed: bool = False) -> dict[str, Any]:
    """One row of the table: the point's values and the best validation of its run.

    Args:
        point: the grid point (its run folder is ``point.config.out``).
        failed: whether a non-finite loss stopped the run.

    Returns:
        ``run``, the varying fields, ``best_val_mse`` and ``best_epoch`` (``None`` before the
        first validation), ``epochs`` (trained) and ``status``.
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
        "epochs": epochs,
        "status": status,
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


def write_sweep_table(
    points: Sequence[GridPoint], root: str | Path, failed: Sequence[str] = ()
) -> dict[str, Path]:
    """Write ``root/sweep.json`` and ``root/sweep.md`` for the grid's points.

    Args:
        points: the grid (rows in its order).
        root: the sweep folder.
        failed: run folders stopped by a non-finite loss.

    Returns:
        ``{"table": sweep.md, "json": sweep.json}``.
    """
    failed_set = {str(path) for path in failed}
    rows = [point_row(point, point.config.out in failed_set) for point in points]
    fields = list(points[0].assignment) if points else []
    json_path = write_json_atomic(Path(root) / JSON_FILE, {"fields": fields, "rows": rows})
    table_path = write_text_atomic(Path(root) / TABLE_FILE, markdown_table(rows))
    return {"table": table_path, "json": json_path}
