"""Figures of the evaluation, as PNG files (matplotlib, Agg backend).

* ``plot_prediction_dims``: predicted against true trajectory, one panel per observation dimension.
* ``plot_prediction_plane``: a 2D trajectory in the plane as the paper's Fig. 7a: real positions,
  the real inputs given, the predictions (saturation increasing with time), inputs at which a gate
  opened outlined in black.
* ``plot_latents``: ``h_t - h_0`` over time with the gate openings marked (Fig. 4d, 7b).
* ``plot_learning_curves``: validation error against epoch, mean and band of one standard deviation
  over seeds per model (Fig. 3a, b).
* ``plot_step_errors``: error against prediction step for several models on one figure.

Every function writes its file atomically and closes its figure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Save ``fig`` as PNG through a temporary file and close it."""
    from mbplan.data.io import atomic_output

    try:
        with atomic_output(path) as stream:
            fig.savefig(stream, format="png", dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _as_array(values: object, name: str, ndim: int) -> np.ndarray:
    """Return ``values`` (array or tensor) as float64 numpy, checking its rank."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values)
    if array.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-dimensional array, got shape {array.shape}")
    return array.astype(np.float64)


def plot_prediction_dims(
    observations: object,
    predictions: object,
    k: int,
    path: str | os.PathLike[str],
    dim_names: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Plot predicted against true values, one panel per observation dimension.

    Args:
        observations: ``(T + 1, obs_dim)`` the true sequence.
        predictions: ``(T, obs_dim)`` predictions of ``observations[1:]``.
        k: number of real inputs at the start (shaded).
        path: PNG file to write.
        dim_names: a label per dimension.
        title: figure title.
    """
    true = _as_array(observations, "observations", 2)
    pred = _as_array(predictions, "predictions", 2)
    if pred.shape != (true.shape[0] - 1, true.shape[1]):
        raise ValueError(
            f"predictions: expected shape {(true.shape[0] - 1, true.shape[1])}, got {pred.shape}"
        )
    dims = true.shape[1]
    names = list(dim_names) if dim_names is not None else [f"dim {i}" for i in range(dims)]
    fig, axes = plt.subplots(dims, 1, figsize=(7, 1.8 * dims + 0.6), sharex=True, squeeze=False)
    steps = np.arange(true.shape[0])
    for i, ax in enumerate(axes[:, 0]):
        ax.axvspan(-0.5, k - 0.5, color="tab:blue", alpha=0.1, lw=0)
        ax.plot(steps, true[:, i], color="black", lw=1.5, label="true")
        ax.plot(steps[1:], pred[:, i], color="tab:red", lw=1.2, ls="--", label="predicted")
        ax.set_ylabel(names[i])
    axes[0, 0].legend(loc="best", fontsize="small")
    axes[-1, 0].set_xlabel(f"time step (shaded: the {k} real inputs)")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def plot_prediction_plane(
    observations: object,
    predictions: object,
    k: int,
    path: str | os.PathLike[str],
    gate_open: object | None = None,
    dims: tuple[int, int] = (0, 1),
    title: str = "",
    dim_names: tuple[str, str] | None = None,
) -> Path:
    """Plot a trajectory in the plane as the paper's Fig. 7a.

    The input at step ``t`` is the real observation for ``t < k`` and the model's own prediction of
    ``o_t`` after that; inputs at which at least one gate opened are outlined in black.

    Args:
        observations: ``(T + 1, obs_dim)`` the true sequence.
        predictions: ``(T, obs_dim)`` autoregressive predictions of ``observations[1:]``.
        k: number of real inputs.
        path: PNG file to write.
        gate_open: ``(T,)`` bool, True where a gate opened at input ``t`` (optional).
        dims: the two observation dimensions drawn as x and y.
        title: figure title.
        dim_names: axis labels of the two dimensions (default ``dim i``).
    """
    true = _as_array(observations, "observations", 2)[:, list(dims)]
    pred = _as_array(predictions, "predictions", 2)[:, list(dims)]
    steps = pred.shape[0]
    inputs = np.concatenate([true[:k], pred[k - 1 : steps - 1]]) if k > 0 else pred[:steps]
    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    ax.plot(true[:, 0], true[:, 1], "-o", color="0.6", ms=3, lw=1, label="real", zorder=1)
    shades = plt.get_cmap("Reds")(np.linspace(0.3, 1.0, steps))
    ax.scatter(pred[:, 0], pred[:, 1], c=shades, s=18, label="predicted", zorder=2)
    ax.scatter(true[:k, 0], true[:k, 1], color="tab:blue", s=30, label="real inputs", zorder=3)
    if gate_open is not None:
        opened = np.asarray(_as_array(gate_open, "gate_open", 1), dtype=bool)[: len(inputs)]
        ax.scatter(
            inputs[opened, 0],
            inputs[opened, 1],
            facecolors="none",
            edgecolors="black",
            s=70,
            linewidths=1.0,
            label="input with a gate opening",
            zorder=1.5,
        )
    ax.set_aspect("equal", adjustable="datalim")
    x_label, y_label = dim_names or (f"dim {dims[0]}", f"dim {dims[1]}")
    ax.set_xlabel(x_label)
    ax.set_ylabel(y_label)
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


#: line styles of successive ``plot_latents`` events.
_EVENT_STYLES = ("--", ":", "-.")


def plot_latents(
    relative: object,
    path: str | os.PathLike[str],
    gate_open: object | None = None,
    title: str = "",
    events: Sequence[tuple[str, int]] = (),
) -> Path:
    """Plot ``h_t - h_0`` over time, one line per latent dimension, gate openings marked.

    Args:
        relative: ``(T, state_size)`` latent states relative to ``h_0``.
        path: PNG file to write.
        gate_open: ``(T,)`` bool, True where a gate opened (drawn as grey bars).
        title: figure title.
        events: ``(label, step)`` pairs drawn as dashed vertical lines at those steps, e.g. the
            first step whose target has a hidden factor on (``latents.flag_onsets``).
    """
    values = _as_array(relative, "relative", 2)
    fig, ax = plt.subplots(figsize=(7, 3.2))
    steps = np.arange(1, values.shape[0] + 1)
    if gate_open is not None:
        opened = np.asarray(_as_array(gate_open, "gate_open", 1), dtype=bool)
        for step in steps[opened[: len(steps)]]:
            ax.axvspan(step - 0.5, step + 0.5, color="0.85", lw=0, zorder=0)
    for i in range(values.shape[1]):
        ax.plot(steps, values[:, i], lw=1.2, label=f"h[{i}]")
    for number, (label, step) in enumerate(events):
        style = _EVENT_STYLES[number % len(_EVENT_STYLES)]
        ax.axvline(step, color="black", lw=1.0, ls=style, label=f"{label} on")
    ax.axhline(0.0, color="black", lw=0.5)
    ax.set_xlabel("time step (grey: a gate opened)" if gate_open is not None else "time step")
    ax.set_ylabel("h_t - h_0")
    handles, labels = ax.get_legend_handles_labels()
    if values.shape[1] > 16:  # too many latent lines to name: the legend names the events only
        handles, labels = handles[values.shape[1] :], labels[values.shape[1] :]
    if handles:
        ax.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize="x-small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _band(
    ax: plt.Axes, x: np.ndarray, runs: np.ndarray, label: str, style: Mapping[str, object]
) -> None:
    """Draw the mean over runs (rows) and a band of one standard deviation."""
    mean = runs.mean(axis=0)
    spread = runs.std(axis=0)
    (line,) = ax.plot(x, mean, lw=1.6, label=f"{label} (n={runs.shape[0]})", **style)
    if runs.shape[0] > 1:
        ax.fill_between(
            x, np.maximum(mean - spread, 1e-12), mean + spread, color=line.get_color(), alpha=0.2
        )


def plot_learning_curves(
    curves: Mapping[str, Sequence[tuple[Sequence[float], Sequence[float]]]],
    path: str | os.PathLike[str],
    ylabel: str = "validation MSE (autoregressive)",
    title: str = "",
    styles: Mapping[str, Mapping[str, object]] | None = None,
) -> Path:
    """Plot validation error against epoch per model: mean and one standard deviation over seeds.

    Args:
        curves: model label -> one ``(epochs, values)`` pair per seed; runs of one label are cut
            to their common length.
        path: PNG file to write.
        ylabel: y axis label (log scale).
        title: figure title.
        styles: optional matplotlib line options per label (color, linestyle).
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, runs in curves.items():
        if not runs:
            continue
        length = min(len(values) for _, values in runs)
        x = np.asarray(runs[0][0][:length], dtype=np.float64)
        values = np.asarray([list(v[:length]) for _, v in runs], dtype=np.float64)
        _band(ax, x, values, label, (styles or {}).get(label, {}))
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_step_errors(
    curves: Mapping[str, object],
    path: str | os.PathLike[str],
    title: str = "",
    styles: Mapping[str, Mapping[str, object]] | None = None,
) -> Path:
    """Plot error against prediction step for several models on one figure.

    Args:
        curves: model label -> ``(runs, T)`` per-step errors (one row per seed).
        path: PNG file to write.
        title: figure title.
        styles: optional matplotlib line options per label (color, linestyle).
    """
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, runs in curves.items():
        values = np.atleast_2d(np.asarray(runs, dtype=np.float64))
        _band(ax, np.arange(1, values.shape[1] + 1), values, label, (styles or {}).get(label, {}))
    ax.set_yscale("log")
    ax.set_xlabel("prediction step")
    ax.set_ylabel("MSE")
    ax.legend(loc="best", fontsize="small")
    if title:
        ax.set_title(title)
    return _save(fig, path)
