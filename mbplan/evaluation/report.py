"""Evaluate a training run: N-step errors, gate statistics, event errors and figures, as JSON.

``evaluate_run`` is what ``mbplan evaluate RUN_DIR`` does: load the run's best (or last) model,
evaluate it on a split of its dataset (or another dataset of the same world, e.g. a generalisation
set), write ``evaluation_<split>.json`` into the run folder and, if asked, the figures.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

from mbplan.data.tensors import SequenceTensors, load_split
from mbplan.evaluation import plots
from mbplan.evaluation.comparison import metric_curve
from mbplan.evaluation.latents import flag_onsets, latent_trajectories
from mbplan.evaluation.prediction import evaluate_prediction
from mbplan.evaluation.reappearance import GATE_FLAG, VAL_REAPPEARANCE, reappearance_error
from mbplan.training.checkpoint import load_checkpoint, model_from_checkpoint
from mbplan.training.config import TrainConfig
from mbplan.training.run_directory import RunDirectory, write_json_atomic

logger = logging.getLogger(__name__)

#: which checkpoint of a run to evaluate.
CHECKPOINTS = {"best": "best_checkpoint", "last": "last_checkpoint"}


def load_run_model(
    run_dir: str | os.PathLike[str], which: str = "best", device: str = "cpu"
) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Return the run's model (eval mode) and its checkpoint dict.

    Raises:
        ValueError: for an unknown ``which``.
    """
    if which not in CHECKPOINTS:
        raise ValueError(f"which: expected one of {sorted(CHECKPOINTS)}, got {which!r}")
    path = getattr(RunDirectory(run_dir), CHECKPOINTS[which])
    payload = load_checkpoint(path, map_location=device)
    return model_from_checkpoint(payload, device=device), payload


def plot_examples(
    model: Any,
    data: SequenceTensors,
    plots_dir: str | os.PathLike[str],
    per_subset: int = 1,
    names: list[str] | None = None,
    max_subsets: int | None = None,
) -> list[Path]:
    """Write prediction and latent-state figures for the first sequences of every subset.

    Args:
        model: the world model.
        data: evaluation sequences.
        plots_dir: folder for the PNG files.
        per_subset: sequences drawn per subset.
        max_subsets: draw only the first this many subsets (all when ``None``).
        names: a name per observation dimension (``episode_drawing.observation_names``); every
            ``"<object> x"`` / ``"<object> y"`` pair gets a plane figure (``_plane.png`` for the
            first, ``_plane_<object>.png`` for the others, e.g. the robot of RRC).

    Returns:
        The files written.
    """
    from mbplan.evaluation.episode_drawing import position_pairs

    plots_dir = Path(plots_dir)
    obs_dim = int(data.observations.shape[-1])
    names = list(names) if names is not None else [f"obs[{i}]" for i in range(obs_dim)]
    pairs = position_pairs(names) or ([("", 0, 1)] if obs_dim >= 2 else [])
    chosen = []
    for index in torch.unique(data.subset).tolist()[:max_subsets]:
        chosen += torch.nonzero(data.subset == index).flatten()[:per_subset].tolist()
    examples = data.select(torch.tensor(chosen, device=data.subset.device))
    latents = latent_trajectories(model, examples)
    k = int(model.k)
    written = []
    for row, item in enumerate(chosen):
        subset = int(examples.subset[row])
        name = data.subset_names[subset] if subset < len(data.subset_names) else str(subset)
        stem = f"seq{item:05d}_{name}"
        gate_open = None if latents.gate_open is None else latents.gate_open[row]
        title = f"{name}, sequence {item}"
        written.append(
            plots.plot_prediction_dims(
                examples.observations[row],
                latents.predictions[row],
                k,
                plots_dir / f"{stem}_dims.png",
                dim_names=names,
                title=title,
            )
        )
        for number, (thing, x, y) in enumerate(pairs):
            suffix = "" if number == 0 else f"_{thing.replace(' ', '_')}"
            written.append(
                plots.plot_prediction_plane(
                    examples.observations[row],
                    latents.predictions[row],
                    k,
                    plots_dir / f"{stem}_plane{suffix}.png",
                    gate_open=gate_open,
                    dims=(x, y),
                    title=f"{title}: {thing}" if thing else title,
                    dim_names=(names[x], names[y]),
                )
            )
        written.append(
            plots.plot_latents(
                latents.relative[row],
                plots_dir / f"{stem}_latents.png",
                gate_open,
                title=title,
                events=flag_onsets(examples.flags[row], examples.flag_names),
            )
        )
    return written


def evaluate_run(
    run_dir: str | os.PathLike[str],
    data: str | None = None,
    split: str = "test",
    horizon: int | None = None,
    plots_dir: str | os.PathLike[str] | None = None,
    which: str = "best",
    subsets: tuple[str, ...] | None = None,
    device: str = "cpu",
    output: str | os.PathLike[str] | None = None,
    examples: int | None = None,
) -> dict[str, Any]:
    """Evaluate a run and write its results as JSON.

    Args:
        run_dir: the run folder.
        data: dataset directory (default: the one the run was trained on).
        split: split to evaluate (``test``, ``val``, ...; ``None`` for all sequences).
        horizon: prediction steps ``N`` (default: the whole window).
        plots_dir: folder for figures (none when ``None``).
        which: ``best`` or ``last`` checkpoint.
        subsets: subsets to evaluate (default: those the run was trained on).
        device: torch device.
        output: JSON file (default: ``RUN_DIR/evaluation_<split>.json``).
        examples: example figures for the first this many subsets only (all when ``None``).

    Returns:
        ``evaluate_prediction``'s dict plus ``run`` (run folder, core, regime, seed, checkpoint
        epoch, split, data) and, when the data have a ``gate_open`` flag, ``reappearance``.
    """
    run = RunDirectory(run_dir)
    config = TrainConfig.from_dict(run.read_config())
    model, payload = load_run_model(run_dir, which, device)
    root = data or config.data
    sequences = load_split(root, split, subsets or config.subsets, config.window).to(device)
    if horizon is not None and not 1 <= horizon <= sequences.steps:
        raise ValueError(
            f"horizon: expected 1 to {sequences.steps} (the steps of the {split!r} sequences in "
            f"{root}), got {horizon}"
        )
    results = evaluate_prediction(model, sequences, horizon=horizon)
    results["run"] = {
        "run_dir": str(run.path),
        "core": config.core,
        "regime": config.regime,
        "task": config.task,
        "seed": config.seed,
        "model": config.model,
        "lr": config.lr,
        "checkpoint": which,
        "epoch": int(payload["epoch"]),
        "split": split,
        "data": str(root),
    }
    if GATE_FLAG in sequences.flag_names:
        results["reappearance"] = reappearance_error(model, sequences)
    if plots_dir is not None:
        if horizon is not None:
            sequences = sequences.truncate(horizon)
        from mbplan.data.io import read_manifest
        from mbplan.evaluation.episode_drawing import observation_names

        env_id = read_manifest(root)["env"]["id"]
        names = observation_names(env_id, int(sequences.observations.shape[-1]))
        plot_examples(model, sequences, plots_dir, names=names, max_subsets=examples)
        plots.plot_step_errors(
            {f"{config.core} ({config.regime})": [results["mse_per_step"]]},
            Path(plots_dir) / "step_errors.png",
        )
        rows = run.read_metrics()
        label = f"{config.core} ({config.regime})"
        if rows:
            plots.plot_learning_curves(
                {label: [metric_curve(rows, "val_mse")]}, Path(plots_dir) / "learning_curve.png"
            )
        reappearance = metric_curve(rows, VAL_REAPPEARANCE)
        if reappearance[0]:
            plots.plot_learning_curves(
                {label: [reappearance]},
                Path(plots_dir) / "reappearance_curve.png",
                ylabel="sheep-reappearance error (validation)",
            )
    write_json_atomic(output or run.path / f"evaluation_{split}.json", results)
    return results
