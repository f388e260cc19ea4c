"""Drawing MPC episodes: annotated world frames, the latent-state panel and GIFs, in one place.

``mbplan plan --gif`` and ``mbplan demo`` both draw through this module:

- :func:`episode_images`: the env's rendered frames (replayed from the recorded actions when the
  episode was not rendered live), with the model's predicted path of every executed plan drawn on
  them, a header (step counter and the episode's outcome: solved at step n / not solved) and a
  legend of what the frame shows (agent, robot, computer, goal, predicted paths, ...);
- :func:`latent_panel` and :func:`demo_images`: those frames beside the model's latent state
  ``h_t - h_0`` with a cursor at the current step;
- :func:`save_gif`: the images as a looping GIF, written atomically.

Observation dimensions are named by the env (``observation_names`` on the env class, e.g.
``"agent x"``); :func:`observation_names` falls back to ``obs[i]`` for envs that declare none.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

#: colours of the predicted paths drawn into frames, in the order of :func:`predicted_markers`.
MARKER_COLORS = ((40, 170, 220), (220, 30, 120))
#: height in pixels of the header (step, outcome) and of one legend row.
HEADER_HEIGHT = 18
LEGEND_ROW = 16


def observation_names(env_id: str | None, obs_dim: int) -> list[str]:
    """A name per observation dimension, as the env declares them (``obs[i]`` otherwise).

    Args:
        env_id: a registered env id (``None``: unknown env).
        obs_dim: number of observation dimensions.

    Returns:
        ``obs_dim`` names.
    """
    names: Sequence[str] = ()
    if env_id:
        import gymnasium as gym

        import sims  # noqa: F401  (registers the envs)

        try:
            env = gym.make(env_id)
        except gym.error.Error:
            env = None
        if env is not None:
            names = tuple(getattr(env.unwrapped, "observation_names", ()))
            env.close()
    if len(names) != obs_dim:
        return [f"obs[{k}]" for k in range(obs_dim)]
    return list(names)


def position_pairs(names: Sequence[str]) -> list[tuple[str, int, int]]:
    """The ``(object, x index, y index)`` of every ``"<object> x"`` / ``"<object> y"`` pair.

    Args:
        names: observation dimension names (see :func:`observation_names`).

    Returns:
        One entry per object with both coordinates, in the order of the names.
    """
    index = {name: k for k, name in enumerate(names)}
    pairs = []
    for k, name in enumerate(names):
        if name.endswith(" x") and f"{name[:-2]} y" in index:
            pairs.append((name[:-2], k, index[f"{name[:-2]} y"]))
    return pairs


def predicted_markers(env_id: str) -> list[tuple[str, slice, Any]]:
    """Observation slices drawn as predicted paths (agent first), with obs -> world maps.

    Returns:
        ``(label, observation slice, normalisation)`` per drawn object; empty for envs without
        a planning task.
    """
    from sims.normalization import PositionNormalization

    if env_id == "mbplan/RobotRemoteControl-v0":
        from sims.remote_control import ROBOT_NORMALIZATION

        identity = PositionNormalization(offset=(0.0, 0.0), scale=(1.0, 1.0))
        return [
            ("predicted agent path", slice(0, 2), identity),
            ("predicted robot path", slice(2, 4), ROBOT_NORMALIZATION),
        ]
    if env_id == "mbplan/Shepherd-v0":
        from sims.shepherd import FIELD_NORMALIZATION, OBS_AGENT, OBS_CAGE

        return [
            ("predicted agent path", OBS_AGENT, FIELD_NORMALIZATION),
            ("predicted cage path", OBS_CAGE, FIELD_NORMALIZATION),
        ]
    return []


def _world_legend(env_id: str) -> list[tuple[str, tuple[int, int, int]]]:
    """What the env's frames show, as (label, colour) from the shared palette of ``sims``."""
    from sims.render import COLORS

    if env_id == "mbplan/RobotRemoteControl-v0":
        return [
            ("agent", COLORS["agent"]),
            ("robot", COLORS["robot"]),
            ("robot (controlled)", COLORS["robot_active"]),
            ("computer", COLORS["computer"]),
            ("goal", COLORS["goal"]),
        ]
    if env_id == "mbplan/Shepherd-v0":
        return [
            ("agent", COLORS["agent"]),
            ("sheep", COLORS["sheep_outline"]),
            ("cage", COLORS["cage"]),
            ("lever / gate", COLORS["lever"]),
            ("stable", COLORS["stable"]),
        ]
    if env_id == "mbplan/BilliardBall-v0":
        return [("ball", COLORS["ball"]), ("pocket", COLORS["pocket"])]
    return []


def replay_frames(env_id: str, result: Any, reset_options: dict[str, Any] | None) -> list[Any]:
    """Render an episode by replaying its actions in a fresh env (the envs are deterministic).

    Args:
        env_id: the env id.
        result: an :class:`planners.EpisodeResult` (its ``seed``, ``actions``, ``observations``).
        reset_options: the ``reset`` options the episode was run with.

    Returns:
        ``steps + 1`` frames ``(height, width, 3)`` uint8.

    Raises:
        RuntimeError: if the replay does not reproduce the recorded observations.
    """
    import gymnasium as gym

    import sims  # noqa: F401

    env = gym.make(env_id, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=result.seed, options=reset_options)
        frames = [np.asarray(env.render())]
        replayed = [np.asarray(obs, np.float32)]
        for action in result.actions:
            obs, *_ = env.step(action)
            frames.append(np.asarray(env.render()))
            replayed.append(np.asarray(obs, np.float32))
    finally:
        env.close()
    recorded = np.asarray(result.observations, np.float32)
    replayed_array = np.stack(replayed)
    finite = np.isfinite(recorded).all(axis=-1)
    if not np.allclose(replayed_array[finite], recorded[finite], atol=1e-5):
        raise RuntimeError(
            f"replaying episode (seed {result.seed}) of {env_id} did not reproduce its "
            "observations; render it live instead (render=True in run_mpc)"
        )
    return frames


def _outcome(result: Any) -> str:
    if getattr(result, "error", None):
        return "stopped: env returned NaN"
    return f"solved at step {result.success_step}" if result.success else "not solved"


def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _legend_strip(
    entries: Sequence[tuple[str, tuple[int, int, int]]], width: int
) -> Any:  # a PIL image
    """Coloured dots and labels, wrapped into rows of ``width`` pixels."""
    from PIL import Image, ImageDraw

    font = _font(11)
    rows: list[list[tuple[str, tuple[int, int, int], int]]] = [[]]
    x = 4
    for label, color in entries:
        size = int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(label, font=font)) + 22
        if x + size > width and rows[-1]:
            rows.append([])
            x = 4
        rows[-1].append((label, color, x))
        x += size
    strip = Image.new("RGB", (width, LEGEND_ROW * len(rows) + 2), "white")
    draw = ImageDraw.Draw(strip)
    for row, items in enumerate(rows):
        y = row * LEGEND_ROW + LEGEND_ROW // 2 + 1
        for label, color, x in items:
            draw.ellipse((x, y - 5, x + 10, y + 5), fill=color, outline=(30, 30, 30))
            draw.text((x + 14, y), label, fill=(20, 20, 20), font=font, anchor="lm")
    return strip


def episode_images(
    result: Any,
    env_id: str,
    *,
    reset_options: dict[str, Any] | None = None,
    radius: int = 2,
    title: str = "",
) -> list[Any]:
    """The episode's frames with predicted paths, a step counter, the outcome and a legend.

    Args:
        result: an :class:`planners.EpisodeResult`; its ``frames`` are used when present, else
            the episode is replayed (:func:`replay_frames`); ``predictions`` are drawn if recorded.
        env_id: the env id (world bounds, obs -> world maps, legend).
        reset_options: ``reset`` options of the episode (for the replay).
        radius: dot radius in pixels of the predicted positions.
        title: text at the start of the header (e.g. ``"episode 3"``).

    Returns:
        One ``PIL.Image`` per frame (``steps + 1``).
    """
    import gymnasium as gym
    from PIL import Image, ImageDraw

    import sims  # noqa: F401

    frames = result.frames or replay_frames(env_id, result, reset_options)
    bounds = gym.make(env_id).unwrapped.world_bounds
    markers = predicted_markers(env_id)
    legend_entries = _world_legend(env_id) + [
        (label, color) for (label, _, _), color in zip(markers, MARKER_COLORS, strict=False)
    ]
    height, width = np.asarray(frames[0]).shape[:2]
    legend = _legend_strip(legend_entries, width) if legend_entries else None
    font = _font(12)
    outcome = _outcome(result)
    steps = len(frames) - 1
    images = []
    for index, frame in enumerate(frames):
        world = Image.fromarray(np.asarray(frame, dtype=np.uint8))
        plan = index - result.warmup_steps
        if result.predictions is not None and 0 <= plan < len(result.predictions):
            draw = ImageDraw.Draw(world)
            x_min, x_max, y_min, y_max = bounds
            for (_, part, normalization), color in zip(markers, MARKER_COLORS, strict=False):
                points = normalization.obs_to_world(result.predictions[plan][:, part])
                for x, y in points:
                    px = (x - x_min) / (x_max - x_min) * width
                    py = (y_max - y) / (y_max - y_min) * height
                    draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=color)
        extra = legend.height if legend is not None else 0
        canvas = Image.new("RGB", (width, HEADER_HEIGHT + height + extra), "white")
        header = f"{title}  " if title else ""
        header += f"step {index}/{steps}"
        if index < result.warmup_steps:
            header += " (warm-up)"
        ImageDraw.Draw(canvas).text(
            (4, HEADER_HEIGHT // 2), header, fill=(0, 0, 0), font=font, anchor="lm"
        )
        ImageDraw.Draw(canvas).text(
            (width - 4, HEADER_HEIGHT // 2),
            outcome,
            fill=(0, 120, 0) if result.success else (170, 0, 0),
            font=font,
            anchor="rm",
        )
        canvas.paste(world, (0, HEADER_HEIGHT))
        if legend is not None:
            canvas.paste(legend, (0, HEADER_HEIGHT + height))
        images.append(canvas)
    return images


def latent_panel(
    relative: np.ndarray, gate_open: np.ndarray | None, size: tuple[int, int], title: str = ""
) -> tuple[Any, np.ndarray, tuple[float, float]]:
    """Draw ``h_t - h_0`` over time once; return the image and the pixel x of every step.

    Args:
        relative: ``(T, H)`` latent states relative to the first one.
        gate_open: ``(T,)`` bool, steps where any gate opened (marked), or ``None``.
        size: ``(width, height)`` in pixels.
        title: axes title.

    Returns:
        ``(PIL.Image, xs (T,), (y_top, y_bottom))`` with the pixel column of each step and the
        vertical extent of the axes.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    width, height = size
    fig, ax = plt.subplots(figsize=(width / 100, height / 100), dpi=100)
    steps = np.arange(relative.shape[0])
    for dim in range(relative.shape[1]):
        ax.plot(steps, relative[:, dim], lw=1.2, label=f"h{dim}")
    if gate_open is not None and gate_open.any():
        opened = np.flatnonzero(gate_open)
        ax.plot(
            opened, np.zeros_like(opened), "|", color="k", ms=8, transform=ax.get_xaxis_transform()
        )
    ax.set_xlabel("step")
    ax.set_ylabel("h_t - h_0")
    ax.set_title(title or "latent state (ticks: a gate opened)", fontsize=9)
    ax.set_xlim(0, max(1, relative.shape[0] - 1))
    fig.tight_layout()
    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    to_pixels = ax.transData.transform
    xs = np.array([to_pixels((t, 0.0))[0] for t in steps])
    bbox = ax.get_window_extent()
    plt.close(fig)
    return image, xs, (height - bbox.y1, height - bbox.y0)


def demo_images(
    worlds: Sequence[Any], relative: np.ndarray, gate_open: np.ndarray | None, title: str = ""
) -> list[Any]:
    """Each annotated world frame beside the latent panel, with a cursor at its step.

    Args:
        worlds: images from :func:`episode_images`.
        relative: ``(T, H)`` latent states ``h_t - h_0`` along the episode's real history.
        gate_open: ``(T,)`` bool gate openings along that history, or ``None``.
        title: the panel's title.

    Returns:
        One ``PIL.Image`` per world frame.
    """
    from PIL import Image, ImageDraw

    height = worlds[0].height
    panel, xs, (y_top, y_bottom) = latent_panel(
        relative, gate_open, (int(1.3 * height), height), title
    )
    frames = []
    for index, world in enumerate(worlds):
        canvas = Image.new("RGB", (world.width + panel.width, height), "white")
        canvas.paste(world, (0, 0))
        overlay = panel.copy()
        t = min(index, len(xs) - 1)
        ImageDraw.Draw(overlay).line([(xs[t], y_top), (xs[t], y_bottom)], fill=(200, 0, 0), width=2)
        canvas.paste(overlay, (world.width, 0))
        frames.append(canvas)
    return frames


def save_gif(images: Sequence[Any], path: str | Path, *, fps: int = 10) -> Path:
    """Write ``PIL`` images as a looping GIF, atomically (mode from the user's umask).

    Args:
        images: the frames, all of one size.
        path: destination ``.gif``.
        fps: frames per second.

    Returns:
        The path written.
    """
    from mbplan.data.io import atomic_write_bytes

    buffer = io.BytesIO()
    duration = max(1, round(1000 / fps))
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:], duration=duration, loop=0
    )
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
