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

The GIF shows the first solved episode (the first episode when none is solved) and the demo says
which. Every setting is checked before any work. The demo never deletes anything: it writes only
into an empty (or new) folder or into one of its own earlier outputs (marked by
``mbplan-demo.json``); a rerun with the same settings reuses the finished data and run, a rerun
with other settings is refused (choose another ``--out``).

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
#: written first into the output folder; marks it as the demo's own.
MARKER_FILE = "mbplan-demo.json"


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """Settings of ``mbplan demo`` (defaults: a run of a few minutes on 2 CPU cores).

    Attributes:
        out: output folder (new, empty, or an earlier demo output).
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
        examples: example figures of the first this many subsets (``None``: every subset).
        progress: show progress bars.

    Raises:
        ValueError: for a setting out of range, naming it (checked before any work).
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
    examples: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        from mbplan.training.config import REGIMES

        if not self.out:
            raise ValueError("out: expected a folder, got an empty string")
        if not 0.0 < self.scale <= 1.0:
            raise ValueError(f"scale: expected a value in (0, 1], got {self.scale}")
        for name in ("workers", "epochs", "batch_size", "eval_every", "episodes"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {getattr(self, name)}")
        if self.max_steps < 2:  # the model's k = 1 warm-up step, then at least one plan
            raise ValueError(f"max_steps: expected an integer >= 2, got {self.max_steps}")
        if self.examples is not None and self.examples < 1:
            raise ValueError(f"examples: expected None or an integer >= 1, got {self.examples}")
        if self.regime not in REGIMES:
            raise ValueError(f"regime: expected one of {REGIMES}, got {self.regime!r}")
        if not 0.0 < self.ss_slope <= 1.0:
            raise ValueError(f"ss_slope: expected a value in (0, 1], got {self.ss_slope}")


def prepare_output(out: Path) -> None:
    """Make ``out`` the demo's folder, or refuse it; nothing is ever deleted.

    A missing or empty folder gets the marker file; a folder holding the marker (an earlier demo
    output) is reused.

    Raises:
        FileExistsError: if ``out`` is a non-empty folder that is not a demo output, or a file.
    """
    from mbplan.data.io import write_json

    marker = out / MARKER_FILE
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"out: {out} is a file (choose a folder with --out)")
    if out.is_dir() and any(out.iterdir()) and not marker.is_file():
        raise FileExistsError(
            f"out: {out} is not empty and is not an earlier 'mbplan demo' output (choose an "
            "empty or new folder with --out; nothing was changed)"
        )
    if not marker.is_file():
        from mbplan import __version__

        write_json(marker, {"written_by": "mbplan demo", "mbplan_version": __version__})


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


def shown_episode(results: list[Any]) -> int:
    """Index of the episode the GIF shows: the first solved one, else the first."""
    return next((i for i, r in enumerate(results) if r.success), 0)


def write_demo_gif(model: Any, results: list[Any], index: int, path: Path, *, fps: int = 8) -> Path:
    """Write episode ``index`` as the demo GIF: annotated world frames beside the latent state.

    Args:
        model: the trained world model (its latent state is filtered along the episode).
        results: the MPC episodes (with recorded predictions).
        index: which episode to show.
        path: destination ``.gif``.
        fps: frames per second.

    Returns:
        The path written.
    """
    from mbplan.evaluation.episode_drawing import demo_images, episode_images, save_gif

    result = results[index]
    relative, gate_open = _episode_latents(model, result)
    title = f"episode {index} of {len(results)} (seed {result.seed})"
    worlds = episode_images(result, ENV_ID, title=title)
    panel_title = "GateL0RD latent state (ticks: a gate opened)"
    return save_gif(demo_images(worlds, relative, gate_open, panel_title), path, fps=fps)


def _train(config: DemoConfig, data_dir: Path, run_dir: Path) -> Any:
    """Train the demo's model, or reuse/resume the one an earlier demo run left in ``run_dir``."""
    import torch

    from mbplan.training.config import preset_config
    from mbplan.training.sweep import check_run, run_status
    from mbplan.training.trainer import Trainer

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
    check_run(train_config)  # a run with other settings is refused, never deleted
    with torch.random.fork_rng():
        if run_status(train_config) == "new":
            return Trainer(train_config).fit()
        return Trainer.resume(run_dir, epochs=config.epochs, progress=config.progress).fit()


def run_demo(
    config: DemoConfig | None = None, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the whole pipeline and write its outputs (see the module docstring).

    Args:
        config: demo settings (defaults when ``None``).
        say: where progress lines go.

    Returns:
        The summary that is also written to ``<out>/summary.json``.

    Raises:
        FileExistsError: if ``config.out`` is a non-empty folder that is not a demo output.
        ValueError: if ``out`` holds a demo with other settings (another dataset or run).
    """
    from mbplan.commands.plan import plan_episodes
    from mbplan.data import generate, make_recipe
    from mbplan.data.io import write_json
    from mbplan.evaluation.report import evaluate_run, load_run_model

    config = config or DemoConfig()
    out = Path(config.out)
    prepare_output(out)
    data_dir, run_dir, plots_dir = out / "data", out / "run", out / "plots"
    timings: dict[str, float] = {}

    start = time.perf_counter()
    say(f"[1/4] generating the rrc-paper dataset at scale {config.scale} into {data_dir}")
    spec = make_recipe("rrc-paper", scale=config.scale, seed=config.seed)
    report = generate(spec, data_dir, workers=config.workers, progress=config.progress)
    acceptance = {s.label: s.acceptance_rate for s in report.subsets}
    timings["generate_s"] = time.perf_counter() - start

    start = time.perf_counter()
    say(f"[2/4] training GateL0RD ({config.regime}, {config.epochs} epochs) into {run_dir}")
    result = _train(config, data_dir, run_dir)
    if result.interrupted:
        raise KeyboardInterrupt
    timings["train_s"] = time.perf_counter() - start
    epoch_seconds = timings["train_s"] / max(1, result.epochs_done)

    start = time.perf_counter()
    say(f"[3/4] evaluating autoregressive predictions; figures into {plots_dir}")
    say("      test split (with figures) ...")
    test = evaluate_run(run_dir, split="test", plots_dir=plots_dir, examples=config.examples)
    say("      generalisation split ...")
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
        record=True,
        progress=config.progress,
    )
    say(f"      and, for reference, the same {config.episodes} episodes planned with the simulator")
    reference = plan_episodes(
        ENV_ID,
        None,
        episodes=config.episodes,
        seed=config.seed,
        max_steps=config.max_steps,
        progress=config.progress,
    )
    shown = shown_episode(episodes)
    gif = write_demo_gif(model, episodes, shown, out / "episode.gif")
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
            "gif_episode": shown,
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
    which = episodes[shown]
    what = f"solved at step {which.success_step}" if which.success else "not solved; none was"
    say(f"episode GIF:   {gif} (episode {shown}, seed {which.seed}: {what})")
    say(f"plots:         {plots_dir}/")
    say(f"summary:       {out / 'summary.json'}")
    say(f"run (resume, evaluate, plan with it): {run_dir}")
    return summary
