"""The whole pipeline on Robot Remote Control, small enough to run in minutes on a laptop CPU.

``mbplan demo`` (and :func:`run_demo`) does, into one output folder (``./mbplan-demo``):

1. **data**: the ``rrc-paper`` recipe at a small scale (biased-policy Control / NoControl
   episodes for training and testing, uniform-policy generalisation episodes), ``data/``;
2. **training**: a GateL0RD world model with the reference's RRC settings (hidden 8, features 8,
   lambda 1e-3, lr 5e-3, batch 128, scheduled sampling) for a short budget, ``run/``;
3. **evaluation**: its autoregressive N-step error on the test and generalisation splits, gate
   statistics, and the figures of ``mbplan evaluate`` (predictions against truth, latent states
   with gate openings, learning curve, error against prediction step), ``plots/``;
4. **planning**: MPC episodes with iCEM (the reference's blitz settings) using the trained model,
   the success rate (beside the same episodes planned with the simulator itself as the model, which
   shows what the planner reaches with a perfect model), and ``episode.gif``: the world with the
   model's predicted agent and robot paths of every executed plan, beside the model's latent state
   ``h_t - h_0`` over the episode;
5. ``summary.json`` with every number and path.

The budget is a compromise with time: the paper trains for about 500k updates; the demo trains
for a few hundred, so its model is much worse than the paper's, and its MPC success rate is well
below the ground-truth planner's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

ENV_ID = "mbplan/RobotRemoteControl-v0"


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Settings of ``mbplan demo`` (defaults: a run of a few minutes on 2 CPU cores).

    Attributes:
        out: output folder.
        seed: one seed for data, training and planning.
        scale: ``rrc-paper`` recipe scale (1.0 = the paper's 8000 episodes per file).
        workers: data generation processes.
        epochs: training epochs (passes over the training split).
        batch_size: training batch (the reference's 2 subsets x 64).
        eval_every: validation interval in epochs.
        regime: ``"ss"`` (scheduled sampling) or ``"tf"`` (teacher forcing).
        ss_slope: scheduled-sampling decay per epoch (the paper's 0.998 suits 10,000 epochs;
            the demo decays faster to reach autoregressive training within its budget).
        episodes: MPC episodes.
        max_steps: env steps per MPC episode.
        progress: show progress bars.
    """

    out: str = "mbplan-demo"
    seed: int = 0
    scale: float = 0.05
    workers: int = 2
    epochs: int = 300
    batch_size: int = 128
    eval_every: int = 10
    regime: str = "ss"
    ss_slope: float = 0.97
    episodes: int = 10
    max_steps: int = 100
    progress: bool = True


def _latent_panel(relative: np.ndarray, gate_open: np.ndarray | None, size: tuple[int, int]):
    """Draw ``h_t - h_0`` over time once; return the image and the pixel x of every step.

    Args:
        relative: ``(T, H)`` latent states relative to the first one.
        gate_open: ``(T,)`` bool, steps where any gate opened (marked), or ``None``.
        size: ``(width, height)`` in pixels.

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
    ax.set_title("GateL0RD latent state (ticks: a gate opened)", fontsize=9)
    ax.set_xlim(0, max(1, relative.shape[0] - 1))
    fig.tight_layout()
    fig.canvas.draw()
    image = Image.fromarray(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    to_pixels = ax.transData.transform
    xs = np.array([to_pixels((t, 0.0))[0] for t in steps])
    bbox = ax.get_window_extent()
    plt.close(fig)
    return image, xs, (height - bbox.y1, height - bbox.y0)


def write_demo_gif(
    result: Any,
    relative: np.ndarray,
    gate_open: np.ndarray | None,
    path: Path,
    *,
    fps: int = 8,
) -> Path:
    """Write the episode GIF: world frames with predicted paths, beside the latent-state panel.

    Args:
        result: a :class:`planners.EpisodeResult` with frames and predictions.
        relative: ``(T, H)`` latent states ``h_t - h_0`` along the episode's real history.
        gate_open: ``(T,)`` bool gate openings along that history, or ``None``.
        path: destination ``.gif``.
        fps: frames per second.

    Returns:
        The path written.
    """
    from PIL import Image, ImageDraw

    from mbplan.commands.plan import episode_images, save_gif

    worlds = episode_images(result, ENV_ID)
    height = worlds[0].height
    panel, xs, (y_top, y_bottom) = _latent_panel(relative, gate_open, (int(1.3 * height), height))
    frames = []
    for index, world in enumerate(worlds):
        canvas = Image.new("RGB", (world.width + panel.width, height), "white")
        canvas.paste(world, (0, 0))
        overlay = panel.copy()
        t = min(index, len(xs) - 1)
        ImageDraw.Draw(overlay).line([(xs[t], y_top), (xs[t], y_bottom)], fill=(200, 0, 0), width=2)
        canvas.paste(overlay, (world.width, 0))
        frames.append(canvas)
    return save_gif(frames, path, fps=fps)


def _episode_latents(model: Any, result: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Filter the executed episode through the model; return ``h_t - h_0`` and gate openings."""
    import torch

    obs = torch.as_tensor(result.observations[:-1], dtype=torch.float32).unsqueeze(0)
    actions = torch.as_tensor(result.actions, dtype=torch.float32).unsqueeze(0)
    model.eval()
    with torch.no_grad():
        out = model(obs, actions, teacher_prob=1.0, return_states=True)
    states = out.states[0].numpy()
    relative = states - states[0]
    gate_open = None if out.gates is None else (out.gates[0] > 0).any(-1).numpy()
    return relative, gate_open


def run_demo(
    config: DemoConfig | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the whole pipeline and write its outputs (see the module docstring).

    Args:
        config: demo settings (defaults when ``None``).
        say: where progress lines go.

    Returns:
        The summary that is also written to ``<out>/summary.json``.
    """
    import torch

    from mbplan.commands.plan import plan_episodes
    from mbplan.data import generate, make_recipe
    from mbplan.data.io import write_json
    from mbplan.evaluation.report import evaluate_run, load_run_model
    from mbplan.training.config import preset_config
    from mbplan.training.trainer import Trainer

    config = config or DemoConfig()
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir, run_dir, plots_dir = out / "data", out / "run", out / "plots"
    timings: dict[str, float] = {}

    start = time.perf_counter()
    say(f"[1/4] generating the rrc-paper dataset at scale {config.scale} into {data_dir}")
    spec = make_recipe("rrc-paper", scale=config.scale, seed=config.seed)
    report = generate(
        spec, data_dir, workers=config.workers, progress=config.progress, overwrite=True
    )
    acceptance = {s.label: s.acceptance_rate for s in report.subsets}
    timings["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    say(f"[2/4] training GateL0RD ({config.regime}, {config.epochs} epochs) into {run_dir}")
    train_config = preset_config(
        "rrc",
        core="gatel0rd",
        regime=config.regime,
        data=str(data_dir),
        out=str(run_dir),
        seed=config.seed,
        epochs=config.epochs,
        batch_size=config.batch_size,
        eval_every=config.eval_every,
        ss_slope=config.ss_slope,
        progress=config.progress,
        tensorboard=False,
    )
    if run_dir.exists():
        import shutil

        shutil.rmtree(run_dir)
    with torch.random.fork_rng():
        result = Trainer(train_config).fit()
    timings["train_s"] = time.perf_counter() - start
    epoch_seconds = timings["train_s"] / max(1, result.epochs_done)

    start = time.perf_counter()
    say(f"[3/4] evaluating autoregressive predictions; figures into {plots_dir}")
    test = evaluate_run(run_dir, split="test", plots_dir=plots_dir)
    general = evaluate_run(run_dir, split="generalization_test")
    timings["evaluate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    say(f"[4/4] MPC with iCEM and the trained model: {config.episodes} episodes")
    model, _ = load_run_model(run_dir, "best", "cpu")
    episodes = plan_episodes(
        ENV_ID,
        model,
        episodes=config.episodes,
        seed=config.seed,
        max_steps=config.max_steps,
        render_first=True,
        record=True,
    )
    say(f"      and, for reference, the same {config.episodes} episodes planned with the simulator")
    reference = plan_episodes(
        ENV_ID, None, episodes=config.episodes, seed=config.seed, max_steps=config.max_steps
    )
    relative, gate_open = _episode_latents(model, episodes[0])
    gif = write_demo_gif(episodes[0], relative, gate_open, out / "episode.gif")
    timings["plan_s"] = time.perf_counter() - start

    successes = int(sum(r.success for r in episodes))
    reference_successes = int(sum(r.success for r in reference))
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    summary = {
        "env": ENV_ID,
        "config": dataclasses.asdict(config),
        "data": {"dir": str(data_dir), "acceptance_rates": acceptance},
        "training": {
            "run_dir": str(run_dir),
            "epochs": result.epochs_done,
            "updates": int(metrics[-1]["updates"]) if metrics else 0,
            "best_epoch": result.best_epoch,
            "best_val_mse": result.best_val_mse,
            "seconds_per_epoch": epoch_seconds,
        },
        "prediction": {
            "horizon": test["horizon"],
            "test_mse": test["mse"],
            "generalization_mse": general["mse"],
            "gates": test["gates"],
        },
        "mpc": {
            "planner": "icem (blitz: population 40, horizon 30, 3 iterations, 10 elites)",
            "episodes": len(episodes),
            "successes": successes,
            "success_rate": successes / len(episodes),
            "mean_plan_seconds": float(np.mean([t for r in episodes for t in r.plan_seconds])),
            "solved_at_start": int(sum(r.success_step == 0 for r in episodes)),
            "per_episode": [
                {"seed": r.seed, "success": r.success, "success_step": r.success_step}
                for r in episodes
            ],
            "ground_truth_successes": reference_successes,
            "ground_truth_success_rate": reference_successes / len(reference),
        },
        "timings_s": timings,
        "outputs": {
            "gif": str(gif),
            "plots": sorted(str(p) for p in plots_dir.glob("*.png")),
            "summary": str(out / "summary.json"),
        },
    }
    write_json(out / "summary.json", summary)
    say("")
    say(
        f"{test['horizon']}-step autoregressive prediction MSE: test {test['mse']:.5f}, "
        f"generalisation (uniform actions) {general['mse']:.5f}"
    )
    say(
        f"MPC success rate with the learned model: {successes}/{len(episodes)} "
        f"(with the simulator as the model: {reference_successes}/{len(reference)})"
    )
    say(f"episode GIF:   {gif}")
    say(f"plots:         {plots_dir}/")
    say(f"summary:       {out / 'summary.json'}")
    say(f"run (resume, evaluate, plan with it): {run_dir}")
    return summary
