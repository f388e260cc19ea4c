"""Figures of the dynamics analyses (matplotlib Agg, headless; each writes one PNG and closes it).

* :func:`plot_state_space`: states projected on two principal components (trajectories as lines,
  clouds as points), coloured by a label or a value, with fixed points marked by stability;
* :func:`plot_eigenvalues`: Jacobian eigenvalues in the complex plane against the unit circle;
* :func:`plot_connectivity`: the recurrent weights among and onto chosen unit groups (kick
  neurons, integrating populations);
* :func:`plot_factor_link`: per fixed point, how many filtered states it attracts and the mean of
  each hidden factor among them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

_MARKERS = {"stable": "o", "marginal": "s", "saddle": "X", "unstable": "^"}


def _save(fig: plt.Figure, path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _numpy(value: torch.Tensor | np.ndarray) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def plot_state_space(
    path: str | os.PathLike[str],
    projected: torch.Tensor,
    color: torch.Tensor | None = None,
    *,
    points: torch.Tensor | None = None,
    stability: Sequence[str] | None = None,
    title: str = "",
    color_label: str = "",
    lines: bool = False,
    axis_labels: tuple[str, str] = ("PC1", "PC2"),
) -> Path:
    """States on two components, coloured by ``color``; fixed points marked by their stability.

    Args:
        path: PNG to write.
        projected: ``(n, >=2)`` points, or ``(m, T, >=2)`` trajectories (with ``lines``).
        color: ``(n,)`` / ``(m, T)`` labels or values (``None``: one colour).
        points: ``(k, >=2)`` projected fixed points.
        stability: ``k`` labels of ``points``.
        title: figure title.
        color_label: colour-bar label.
        lines: draw each trajectory as a thin grey line under its points.
        axis_labels: names of the two axes.
    """
    data = _numpy(projected)
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    if lines and data.ndim == 3:
        for trajectory in data:
            ax.plot(trajectory[:, 0], trajectory[:, 1], color="0.7", lw=0.4, zorder=1)
    flat = data.reshape(-1, data.shape[-1])
    colours = None if color is None else _numpy(color).reshape(-1)
    scatter = ax.scatter(flat[:, 0], flat[:, 1], c=colours, s=4, cmap="viridis", zorder=2)
    if colours is not None:
        fig.colorbar(scatter, ax=ax, label=color_label)
    if points is not None and len(points):
        fixed = _numpy(points)
        labels = list(stability) if stability is not None else ["stable"] * len(fixed)
        for kind in dict.fromkeys(labels):
            chosen = np.array([label == kind for label in labels])
            ax.scatter(
                fixed[chosen, 0],
                fixed[chosen, 1],
                marker=_MARKERS.get(kind, "o"),
                s=90,
                facecolor="red" if kind == "stable" else "white",
                edgecolor="black",
                zorder=3,
                label=f"fixed point ({kind})",
            )
        ax.legend(loc="best", fontsize=8)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_eigenvalues(
    path: str | os.PathLike[str],
    eigvals: torch.Tensor,
    *,
    groups: Sequence[str] | None = None,
    title: str = "",
) -> Path:
    """Eigenvalues ``(n, S)`` (one row per state or point) and the unit circle.

    Args:
        path: PNG to write.
        eigvals: complex eigenvalues.
        groups: ``n`` labels (one colour each), e.g. regions or fixed-point indices.
        title: figure title.
    """
    values = _numpy(eigvals)
    fig, ax = plt.subplots(figsize=(4.8, 4.5))
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 200))
    ax.plot(circle.real, circle.imag, "k--", lw=0.8)
    names = list(groups) if groups is not None else ["all"] * len(values)
    for name in dict.fromkeys(names):
        rows = values[[label == name for label in names]].reshape(-1)
        ax.scatter(rows.real, rows.imag, s=6, alpha=0.6, label=str(name))
    if groups is not None:
        ax.legend(fontsize=8, markerscale=2)
    ax.set_aspect("equal")
    ax.set_xlabel("Re $\\lambda$")
    ax.set_ylabel("Im $\\lambda$")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_connectivity(
    path: str | os.PathLike[str],
    weight_hh: torch.Tensor,
    groups: Mapping[str, Sequence[int]],
    *,
    title: str = "",
) -> Path:
    """The block of ``W_hh`` among the units of ``groups`` (rows: to, columns: from), in order.

    Args:
        path: PNG to write.
        weight_hh: ``(S, S)``.
        groups: name -> unit indices, drawn in this order with separators.
        title: figure title.
    """
    weight = _numpy(weight_hh)
    order = [unit for units in groups.values() for unit in units]
    block = weight[np.ix_(order, order)]
    limit = float(np.abs(block).max()) or 1.0
    fig, ax = plt.subplots(figsize=(5.5, 5))
    image = ax.imshow(block, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="$W_{hh}$[to, from]")
    edges = np.cumsum([len(units) for units in groups.values()])[:-1] - 0.5
    for edge in edges:
        ax.axhline(edge, color="k", lw=0.8)
        ax.axvline(edge, color="k", lw=0.8)
    centres = np.cumsum([0, *[len(u) for u in groups.values()]])
    ticks = (centres[:-1] + centres[1:]) / 2 - 0.5
    ax.set_xticks(ticks, list(groups), rotation=30, fontsize=8)
    ax.set_yticks(ticks, list(groups), fontsize=8)
    ax.set_xlabel("from")
    ax.set_ylabel("to")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def plot_factor_link(
    path: str | os.PathLike[str],
    counts: torch.Tensor,
    factor_means: torch.Tensor,
    flag_names: Sequence[str],
    *,
    title: str = "",
) -> Path:
    """Bars: filtered states per fixed point, and the mean of each hidden factor among them.

    Args:
        path: PNG to write.
        counts: ``(k,)``.
        factor_means: ``(k, F)``.
        flag_names: ``F`` names.
        title: figure title.
    """
    counts_np, means = _numpy(counts), _numpy(factor_means)
    k = len(counts_np)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(max(4.0, 0.5 * k + 2), 5), sharex=True)
    top.bar(np.arange(k), counts_np, color="0.5")
    top.set_ylabel("filtered states")
    width = 0.8 / max(len(flag_names), 1)
    for index, name in enumerate(flag_names):
        bottom.bar(np.arange(k) + index * width, means[:, index], width, label=name)
    bottom.set_ylim(0, 1)
    bottom.set_ylabel("mean of factor")
    bottom.set_xlabel("fixed point (by attracted states)")
    bottom.legend(fontsize=8)
    top.set_title(title, fontsize=10)
    return _save(fig, path)
