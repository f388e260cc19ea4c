"""A training run on disk: its folder layout, the config, the metrics log and TensorBoard events.

Layout of ``RUN_DIR``::

    config.json      the resolved TrainConfig (written once, when the run starts)
    metrics.jsonl    one JSON object per validation (epoch, losses, validation error, ...)
    warmup.jsonl     one JSON object per warmup step (VAA* per layer), when warmup is on
    last.pt          the full checkpoint to resume from (see mbplan.training.checkpoint)
    best.pt          the model with the lowest validation error so far
    events.out.*     TensorBoard scalars (when tensorboard is installed and enabled)

Every file is written atomically (temporary file, then ``os.replace``), so an interrupted run never
leaves a half-written file behind.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
WARMUP_METRICS_FILE = "warmup.jsonl"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path = Path(path)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | os.PathLike[str], values: Any) -> Path:
    """Write ``values`` as indented JSON to ``path`` atomically (NaN and inf become ``null``)."""
    return write_text_atomic(path, json.dumps(_finite(values), indent=2) + "\n")


def _finite(values: Any) -> Any:
    """Replace non-finite floats by ``None`` so the JSON stays standard."""
    if isinstance(values, float) and not math.isfinite(values):
        return None
    if isinstance(values, Mapping):
        return {str(key): _finite(value) for key, value in values.items()}
    if isinstance(values, list | tuple):
        return [_finite(value) for value in values]
    return values


class RunDirectory:
    """The files of one training run.

    Args:
        path: the run folder (created by ``create``).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._writer: Any = None

    @property
    def config_path(self) -> Path:
        """``RUN_DIR/config.json``."""
        return self.path / CONFIG_FILE

    @property
    def metrics_path(self) -> Path:
        """``RUN_DIR/metrics.jsonl``."""
        return self.path / METRICS_FILE

    @property
    def warmup_metrics_path(self) -> Path:
        """``RUN_DIR/warmup.jsonl``, the warmup's rows."""
        return self.path / WARMUP_METRICS_FILE

    @property
    def last_checkpoint(self) -> Path:
        """``RUN_DIR/last.pt``, the checkpoint to resume from."""
        return self.path / LAST_CHECKPOINT

    @property
    def best_checkpoint(self) -> Path:
        """``RUN_DIR/best.pt``, the best validation model."""
        return self.path / BEST_CHECKPOINT

    def create(self, config: Mapping[str, Any]) -> None:
        """Create the folder and write the config.

        Raises:
            FileExistsError: if the folder already holds a run (a ``config.json``); resume it
                instead or choose another folder.
        """
        if self.config_path.exists():
            raise FileExistsError(
                f"out: {self.path} already holds a run; pass --resume {self.path} to continue it "
                "or choose another folder"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.config_path, dict(config))

    def read_config(self) -> dict[str, Any]:
        """Return the saved config as a dict.

        Raises:
            FileNotFoundError: if the folder holds no run.
        """
        if not self.config_path.is_file():
            raise FileNotFoundError(f"run directory {self.path} has no {CONFIG_FILE}")
        return json.loads(self.config_path.read_text(encoding="utf-8"))

    def read_metrics(self) -> list[dict[str, Any]]:
        """Return the metrics rows in order (an empty list before the first validation)."""
        return _read_rows(self.metrics_path)

    def write_metrics(self, rows: list[Mapping[str, Any]]) -> None:
        """Replace the metrics log with ``rows`` (atomically)."""
        _write_rows(self.metrics_path, rows)

    def read_warmup_metrics(self) -> list[dict[str, Any]]:
        """Return the warmup rows in order (empty without warmup)."""
        return _read_rows(self.warmup_metrics_path)

    def append_warmup_metrics(self, row: Mapping[str, Any]) -> None:
        """Add one warmup row; TensorBoard gets its scalars as ``warmup/<name>`` at its step."""
        _write_rows(self.warmup_metrics_path, [*self.read_warmup_metrics(), row])
        if self._writer is not None:
            for key, value in row.items():
                if isinstance(value, int | float) and key != "warmup_step":
                    self._writer.add_scalar(f"warmup/{key}", value, int(row["warmup_step"]))
            self._writer.flush()

    def keep_warmup_metrics_until(self, steps: int) -> None:
        """Drop warmup rows logged after ``steps`` warmup steps (used when resuming)."""
        rows = self.read_warmup_metrics()
        kept = [row for row in rows if int(row["warmup_step"]) <= steps]
        if len(kept) != len(rows):
            _write_rows(self.warmup_metrics_path, kept)

    def append_metrics(self, row: Mapping[str, Any]) -> None:
        """Add one row to the metrics log and its scalars to TensorBoard."""
        self.write_metrics([*self.read_metrics(), row])
        if self._writer is not None:
            step = int(row.get("updates", row.get("epoch", 0)))
            for key, value in row.items():
                if isinstance(value, int | float) and key not in ("epoch", "updates"):
                    self._writer.add_scalar(_tensorboard_tag(key), value, step)
            self._writer.flush()

    def keep_metrics_until(self, epoch: int) -> None:
        """Drop metrics rows logged after ``epoch`` completed epochs (used when resuming)."""
        rows = self.read_metrics()
        kept = [row for row in rows if int(row["epoch"]) <= epoch]
        if len(kept) != len(rows):
            self.write_metrics(kept)

    def open_tensorboard(self, config: Mapping[str, Any]) -> bool:
        """Start a TensorBoard writer in the run folder if ``tensorboard`` is installed.

        Returns:
            Whether a writer was opened.
        """
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logger.info("tensorboard is not installed; metrics go to %s only", METRICS_FILE)
            return False
        self._writer = SummaryWriter(log_dir=str(self.path))
        table = "\n".join(f"|{key}|{value}|" for key, value in config.items())
        self._writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
        return True

    def close(self) -> None:
        """Close the TensorBoard writer, if any."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _read_rows(path: Path) -> list[dict[str, Any]]:
    """The JSON rows of a ``.jsonl`` log (an empty list when it does not exist)."""
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {number + 1} is not JSON: {err}") from err
    return rows


def _write_rows(path: Path, rows: list[Mapping[str, Any]]) -> None:
    """Replace a ``.jsonl`` log with ``rows`` (atomically)."""
    write_text_atomic(path, "".join(json.dumps(_finite(dict(row))) + "\n" for row in rows))


def _tensorboard_tag(key: str) -> str:
    """Group metric names as CleanRL does: losses/..., eval/..., charts/..."""
    if key.startswith("train_"):
        return f"losses/{key.removeprefix('train_')}"
    if key.startswith("val_"):
        return f"eval/{key.removeprefix('val_')}"
    return f"charts/{key}"
