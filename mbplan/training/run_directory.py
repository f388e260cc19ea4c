"""A training run on disk: its folder layout, the config, the metrics log and TensorBoard events.

Layout of ``RUN_DIR``::

    config.json      the resolved TrainConfig (written once, when the run starts)
    dataset.json     the training dataset's path and fingerprint (to refuse another dataset)
    metrics.jsonl    one JSON object per validation (epoch, losses, validation error, ...)
    warmup.jsonl     one JSON object per warmup step (VAA* per layer), when warmup is on
    last.pt          the full checkpoint to resume from (see mbplan.training.checkpoint)
    best.pt          the model with the lowest validation error so far
    events.out.*     TensorBoard scalars (when tensorboard is installed and enabled)

Every file is written atomically (temporary file, then ``os.replace``), so an interrupted run never
leaves a half-written file behind; files get the permissions of the user's umask.

A run is continued only with the settings it was started with: :func:`config_differences` names
the fields in which a request differs from the saved config, except :data:`MAY_DIFFER` (the number
of epochs may grow; progress bars, TensorBoard and the device do not change what is trained).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
WARMUP_METRICS_FILE = "warmup.jsonl"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
DATASET_FILE = "dataset.json"

#: config fields that may differ between a saved run and a request to continue or skip it.
MAY_DIFFER = ("epochs", "progress", "tensorboard", "device", "out")


class RunMismatchError(ValueError):
    """A run folder holds a run with other settings (or data) than the ones requested."""


def write_text_atomic(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    from mbplan.data.io import atomic_write_bytes

    atomic_write_bytes(path, text.encode("utf-8"))
    return Path(path)


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
        self.check_new()
        self.path.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.config_path, dict(config))

    def check_new(self) -> None:
        """Raise unless the folder is free for a new run.

        Raises:
            FileExistsError: if the folder already holds a run (a ``config.json``), saying how far
                it got and how to continue it.
        """
        if self.config_path.exists():
            where = self.describe_progress()
            raise FileExistsError(
                f"out: {self.path} already holds a run, {where} (continue it with "
                f"'mbplan train --resume {self.path}', or choose another --out)"
            )

    def describe_progress(self) -> str:
        """Say in words how far the run got: its last validated epoch, or that none was saved."""
        if not self.last_checkpoint.is_file():
            return "with no checkpoint yet: a resume starts it from the beginning"
        try:
            rows = self.read_metrics()
        except ValueError:
            rows = []
        if not rows:
            return "started, no epoch validated yet"
        return f"validated up to epoch {int(rows[-1]['epoch'])}"

    def read_config(self) -> dict[str, Any]:
        """Return the saved config as a dict.

        Raises:
            FileNotFoundError: if the folder holds no run.
            ValueError: if ``config.json`` is not a JSON object (truncated or edited); the
                message names the file.
        """
        if not self.config_path.is_file():
            raise FileNotFoundError(
                f"run directory {self.path} has no {CONFIG_FILE} (is it a folder written by "
                "'mbplan train'?)"
            )
        text = self.config_path.read_text(encoding="utf-8")
        try:
            values = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{self.config_path} is not valid JSON ({err}); the file is truncated or was "
                "edited (restore it, or start a new run in another folder)"
            ) from None
        if not isinstance(values, dict):
            raise ValueError(
                f"{self.config_path}: expected a JSON object, got {type(values).__name__} "
                "(restore it, or start a new run in another folder)"
            )
        return values

    @property
    def dataset_path(self) -> Path:
        """``RUN_DIR/dataset.json``: the training dataset's path and fingerprint."""
        return self.path / DATASET_FILE

    def write_dataset(self, data: str) -> None:
        """Record the training dataset ``data`` (its path and :func:`dataset_fingerprint`)."""
        write_json_atomic(
            self.dataset_path, {"path": str(data), "fingerprint": dataset_fingerprint(data)}
        )

    def check_dataset(self, data: str) -> None:
        """Raise unless ``data`` holds the dataset the run was trained on; record a moved one.

        The dataset is compared by :func:`dataset_fingerprint` with the one recorded in
        ``dataset.json`` (runs written before that file existed: with the dataset at the saved
        config's path, if it is still there). A dataset that only moved is accepted and its new
        path recorded in ``config.json`` and ``dataset.json``.

        Raises:
            RunMismatchError: if ``data`` holds another dataset.
        """
        saved = self.read_config()
        new = dataset_fingerprint(data)
        if self.dataset_path.is_file():
            recorded = json.loads(self.dataset_path.read_text(encoding="utf-8"))["fingerprint"]
        else:
            recorded = _fingerprint_or_none(saved.get("data", ""))
        if recorded is not None and recorded != new:
            raise RunMismatchError(
                f"data: {data} holds another dataset than run {self.path} was trained on, "
                f"{saved.get('data')} (resume with that dataset, or train a new run on this one)"
            )
        if str(data) != str(saved.get("data")):
            logger.warning("run %s: its dataset is now read from %s", self.path, data)
            write_json_atomic(self.config_path, {**saved, "data": str(data)})
            write_json_atomic(self.dataset_path, {"path": str(data), "fingerprint": new})

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


def trained_runs(
    grid: str | os.PathLike[str], pattern: str = "*", cores: Sequence[str] | None = None
) -> list[tuple[str, int, Path]]:
    """The run folders in ``grid`` (e.g. an ``mbplan compare --out``) that have a best checkpoint.

    A run is identified by its ``config.json``, not by its folder name, so renamed or hand-named
    folders are found too.

    Args:
        grid: the folder holding run folders.
        pattern: glob of the run folder names to include (``"elman_*"``; default all).
        cores: only runs of these cores (default all).

    Returns:
        ``(core, seed, folder)`` per run, sorted by core and seed.

    Raises:
        FileNotFoundError: if ``grid`` is not a folder.
        ValueError: if a run folder's ``config.json`` is unreadable (named by the message).
    """
    root = Path(grid)
    if not root.is_dir():
        raise FileNotFoundError(f"no folder {root}")
    runs = []
    for best in root.glob(f"{pattern}/{BEST_CHECKPOINT}"):
        config = RunDirectory(best.parent).read_config()
        if cores is None or config["core"] in cores:
            runs.append((str(config["core"]), int(config["seed"]), best.parent))
    return sorted(runs, key=lambda run: (run[0], run[1], str(run[2])))


def dataset_fingerprint(root: str | os.PathLike[str]) -> str:
    """SHA-256 of a dataset's manifest (its recipe, sizes and every shard's checksum).

    Raises:
        DatasetError: if ``root`` holds no readable dataset.
    """
    from mbplan.data.io import read_manifest

    manifest = read_manifest(root)
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode("utf-8")).hexdigest()


def _fingerprint_or_none(root: str) -> str | None:
    from mbplan.data.errors import DatasetError

    if not root:
        return None
    try:
        return dataset_fingerprint(root)
    except (DatasetError, OSError):
        return None


def config_differences(
    saved: Mapping[str, Any], requested: Mapping[str, Any], may_differ: tuple[str, ...] = MAY_DIFFER
) -> list[str]:
    """Name the fields in which ``requested`` differs from a run's ``saved`` config.

    Args:
        saved: the run's ``config.json``.
        requested: the resolved config asked for (``TrainConfig.to_dict()``).
        may_differ: fields not compared (:data:`MAY_DIFFER`).

    Returns:
        ``"name: run has X, requested Y"`` per differing field, sorted by name; ``data`` counts as
        equal when both paths hold the same dataset (same :func:`dataset_fingerprint`).
    """
    from mbplan.training.config import TrainConfig

    # a field added after the run was saved (e.g. ``warmup``) counts as its default there
    defaults = TrainConfig().to_dict()
    found = []
    for name in sorted(set(saved) | set(requested)):
        if name in may_differ:
            continue
        old, new = saved.get(name, defaults.get(name)), requested.get(name, defaults.get(name))
        if old == new:
            continue
        if name == "data" and _same_dataset(str(old), str(new)):
            continue
        found.append(f"{name}: run has {old!r}, requested {new!r}")
    return found


def _same_dataset(first: str, second: str) -> bool:
    if Path(first).resolve() == Path(second).resolve():
        return True
    fingerprint = _fingerprint_or_none(first)
    return fingerprint is not None and fingerprint == _fingerprint_or_none(second)


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
