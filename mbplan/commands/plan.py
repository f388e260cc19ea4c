"""``mbplan plan``: model-predictive control with iCEM in an env; prints the success rate.

Examples::

    mbplan plan --run runs/rrc_g --env mbplan/RobotRemoteControl-v0 --episodes 20 --gif rrc.gif
    mbplan plan --ground-truth --env mbplan/RobotRemoteControl-v0 --episodes 20

With ``--run`` the world model of a training run plans (its best checkpoint unless
``--checkpoint last``); with ``--ground-truth`` the simulator itself is the model, which validates
the planner without any learned model. Episode ``i`` resets its env with seed ``--seed + i``; the
planner's generator is seeded with ``--seed``. The planner defaults are the iCEM reference's
"blitz" settings (population 40, horizon 30, 3 iterations, 10 elites, colored noise beta 3),
replaced where a task needs more by its task defaults (:mod:`planners.tasks`: Shepherd plans with
horizon 60, starts on the right as in the paper's planning wrapper, and warms up holding the
cage). The success rate leaves out episodes already solved at reset and says how many there were.

:func:`plan_episodes` is the library side of this command (used by ``mbplan demo``); the GIF is
drawn by :mod:`mbplan.evaluation.episode_drawing`.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mbplan.commands.options import positive_int, smoke_caps

HELP = "run iCEM MPC episodes with a trained model or the simulator; print the success rate"

#: planner name -> class name in ``planners``.
PLANNERS = {"icem": "ICEM", "cem": "CEM", "mppi": "MPPI"}
#: planner options settable from the command line (``None``: the planner's default).
PLANNER_OPTIONS = (
    "horizon",
    "population",
    "iterations",
    "elites",
    "noise_beta",
    "init_std",
    "alpha",
)

logger = logging.getLogger(__name__)


def make_planner(
    name: str,
    action_low: np.ndarray,
    action_high: np.ndarray,
    *,
    seed: int,
    device: str = "cpu",
    **options: Any,
) -> Any:
    """Build a planner from ``planners`` by name.

    Args:
        name: ``"icem"``, ``"cem"`` or ``"mppi"``.
        action_low: ``(action_dim,)`` lower bounds.
        action_high: ``(action_dim,)`` upper bounds.
        seed: seed of the planner's ``torch.Generator``.
        device: torch device of the planner.
        **options: constructor options; ``None`` values are dropped (planner default).

    Returns:
        The planner.

    Raises:
        ValueError: for an unknown name or an option the planner does not take.
    """
    import torch

    import planners

    if name not in PLANNERS:
        raise ValueError(f"planner: expected one of {sorted(PLANNERS)}, got {name!r}")
    cls = getattr(planners, PLANNERS[name])
    generator = torch.Generator(device=device).manual_seed(seed)
    chosen = {key: value for key, value in options.items() if value is not None}
    try:
        return cls(action_low, action_high, generator=generator, device=device, **chosen)
    except TypeError as err:
        raise ValueError(f"planner {name!r} does not take one of {sorted(chosen)}: {err}") from err


def plan_episodes(
    env_id: str,
    model: Any | None,
    *,
    episodes: int,
    seed: int = 0,
    max_steps: int | None = None,
    planner: str = "icem",
    planner_options: dict[str, Any] | None = None,
    batch_size: int | None = None,
    device: str = "cpu",
    reset_options: dict[str, Any] | None = None,
    render_first: bool = False,
    progress: bool = False,
    record: bool = False,
) -> list[Any]:
    """Run MPC episodes in batches and return their :class:`planners.EpisodeResult`.

    Args:
        env_id: a registered ``mbplan/*`` id with a planning task (RRC, Shepherd).
        model: a world model (``initial_state``/``step``/``rollout``), or ``None`` for the
            ground-truth simulator.
        episodes: number of episodes; episode ``i`` resets with seed ``seed + i``.
        seed: first env seed and the planner's seed.
        max_steps: env steps per episode; the env's ``max_episode_steps`` when ``None``.
        planner: ``"icem"``, ``"cem"`` or ``"mppi"``.
        planner_options: constructor options of the planner; the task's defaults
            (:mod:`planners.tasks`) fill in the ones left out or ``None``.
        batch_size: episodes planned together in one batch (all when ``None``).
        device: torch device of the planner (and of the model, which must already be there).
        reset_options: ``reset`` options; the task's when ``None``.
        render_first: render frames of the first episode.
        progress: show a progress bar over the control steps of every batch.
        record: keep the predictions and model states of every episode.

    Returns:
        ``episodes`` results in episode order.

    Raises:
        ValueError: if the model's dimensions do not match the env, or for bad counts.
    """
    import gymnasium as gym

    import planners
    import sims  # noqa: F401  (registers the envs)

    if episodes < 1:
        raise ValueError(f"episodes: expected >= 1, got {episodes}")
    batch_size = episodes if batch_size is None else batch_size
    if batch_size < 1:
        raise ValueError(f"batch_size: expected >= 1, got {batch_size}")
    planning = planners.planning_task(env_id)
    task = planning.cost()
    probe = gym.make(env_id)
    obs_dim, action_dim = probe.observation_space.shape[0], probe.action_space.shape[0]
    if model is not None and (model.obs_dim, model.action_dim) != (obs_dim, action_dim):
        raise ValueError(
            f"model: expects obs_dim={model.obs_dim}, action_dim={model.action_dim}, but {env_id} "
            f"has obs_dim={obs_dim}, action_dim={action_dim}"
        )
    if max_steps is None:
        max_steps = probe.spec.max_episode_steps
        if max_steps is None:
            raise ValueError(f"max_steps: {env_id} has no time limit; pass max_steps")
    elif max_steps < 1:  # 0 must not silently mean "the env's default"
        raise ValueError(f"max_steps: expected >= 1 (or None for the env's limit), got {max_steps}")
    options = dict(planning.reset_options) if reset_options is None else reset_options
    low, high = probe.action_space.low, probe.action_space.high
    mpc_planner = make_planner(
        planner, low, high, seed=seed, device=device, **planning.planner_options(planner_options)
    )
    from tqdm.auto import tqdm

    batches = -(-episodes // batch_size)
    bar = tqdm(
        total=batches * max_steps,
        desc=f"MPC {episodes} episodes" + (" (simulator)" if model is None else ""),
        unit="step",
        disable=not progress,
        dynamic_ncols=True,
    )
    results = []
    for number, start in enumerate(range(0, episodes, batch_size)):
        seeds = list(range(seed + start, seed + min(start + batch_size, episodes)))
        render = render_first and start == 0
        envs = [
            gym.make(env_id, render_mode="rgb_array" if render and b == 0 else None)
            for b in range(len(seeds))
        ]
        if model is None:
            simulator = gym.make(env_id)
            simulator.reset(seed=seed)
            world = planners.GroundTruthModel(envs, simulator)
        else:
            world = model
        # Only the first env renders; the others return None frames, which are dropped below.
        batch = planners.run_mpc(
            envs,
            world,
            mpc_planner,
            task,
            max_steps=max_steps,
            seeds=seeds,
            reset_options=options,
            warmup_action=planning.warmup_action,
            record_predictions=record or render,
            record_states=record,
            render=render,
            on_step=lambda steps, n=number: bar.update(n * max_steps + steps - bar.n),
        )
        bar.update((number + 1) * max_steps - bar.n)
        for b, result in enumerate(batch):
            if b > 0 or not render:
                result.frames = None
        results.extend(batch)
        logger.info("episodes %d-%d: %d solved", seeds[0], seeds[-1], sum(r.success for r in batch))
    bar.close()
    return results


def episode_outcome(result: Any) -> str:
    """One line: solved at reset / solved at step n / not solved, and the steps taken."""
    if result.success and result.success_step == 0:
        return "solved at reset (nothing to plan)"
    outcome = f"solved at step {result.success_step}" if result.success else "not solved"
    return f"{outcome} in {result.steps} steps"


def write_episode_gif(
    result: Any,
    env_id: str,
    path: str | Path,
    *,
    fps: int = 10,
    reset_options: dict[str, Any] | None = None,
    title: str = "",
) -> Path:
    """Write an episode as an annotated GIF (see :func:`episode_drawing.episode_images`).

    Args:
        result: an :class:`planners.EpisodeResult` (replayed when it holds no frames).
        env_id: the env id.
        path: destination ``.gif``; written atomically.
        fps: frames per second.
        reset_options: ``reset`` options of the episode (the task's when ``None``).
        title: header text, e.g. ``"episode 3"``.

    Returns:
        The path written.
    """
    from mbplan.evaluation.episode_drawing import episode_images, save_gif
    from planners.tasks import planning_task

    if reset_options is None:
        reset_options = dict(planning_task(env_id).reset_options)
    images = episode_images(result, env_id, reset_options=reset_options, title=title)
    return save_gif(images, path, fps=fps)


def _parser() -> argparse.ArgumentParser:
    from planners.tasks import PLANNING_TASKS

    tasks = "; ".join(task.describe() for task in PLANNING_TASKS.values())
    parser = argparse.ArgumentParser(
        prog="mbplan plan",
        description=__doc__.split("\n")[0],
        epilog=f"task defaults (an explicit option wins): {tasks}",
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN_DIR", help="training run whose model plans")
    source.add_argument(
        "--ground-truth", action="store_true", help="plan with the simulator as the model"
    )
    parser.add_argument("--env", default="mbplan/RobotRemoteControl-v0", help="env id")
    parser.add_argument("--episodes", type=positive_int, default=20, help="number of episodes (20)")
    parser.add_argument("--seed", type=int, default=0, help="first env seed and planner seed (0)")
    parser.add_argument(
        "--max-steps", type=positive_int, help="steps per episode (default: the env's time limit)"
    )
    parser.add_argument("--batch", type=positive_int, help="episodes planned together (all)")
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which model of the run"
    )
    parser.add_argument("--planner", choices=sorted(PLANNERS), default="icem", help="(icem)")
    for name in PLANNER_OPTIONS:
        kind = int if name in ("horizon", "population", "iterations", "elites") else float
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=kind,
            help=f"planner {name} (the task default, else the planner's)",
        )
    parser.add_argument("--device", default="cpu", help="torch device (cpu)")
    parser.add_argument("--gif", metavar="OUT", help="write the first episode as a GIF")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser


def _summary(results: Sequence[Any], args: argparse.Namespace) -> dict[str, Any]:
    from planners.tasks import planning_task, summarize_success

    times = [t for r in results for t in r.plan_seconds]
    success = summarize_success(results)
    chosen = {k: getattr(args, k) for k in PLANNER_OPTIONS}
    return {
        "env": args.env,
        "model": "ground-truth" if args.ground_truth else str(args.run),
        "planner": args.planner,
        "planner_options": planning_task(args.env).planner_options(chosen),
        "episodes": len(results),
        "solved_at_reset": success.solved_at_reset,
        "successes": success.successes,
        "success_rate": success.rate,
        "mean_plan_seconds": float(np.mean(times)) if times else None,
        "per_episode": [
            {"seed": r.seed, "success": r.success, "success_step": r.success_step, "steps": r.steps}
            for r in results
        ],
    }


def main(argv: list[str]) -> int:
    """Run ``mbplan plan``; returns 0 on success, 2 on bad arguments."""
    from mbplan.errors import check_device

    args = _parser().parse_args(argv)
    check_device(args.device)
    capped = ("episodes", "max_steps", "population", "horizon", "iterations", "elites")
    for name, value in smoke_caps({name: getattr(args, name) for name in capped}).items():
        setattr(args, name, value)
    model = None
    if args.run:
        from mbplan.evaluation.report import load_run_model

        model, _ = load_run_model(args.run, which=args.checkpoint, device=args.device)
    results = plan_episodes(
        args.env,
        model,
        episodes=args.episodes,
        seed=args.seed,
        max_steps=args.max_steps,
        planner=args.planner,
        planner_options={k: getattr(args, k) for k in PLANNER_OPTIONS},
        batch_size=args.batch,
        device=args.device,
        record=bool(args.gif),  # the GIF replays the episode; no live frames
        progress=not args.no_progress,
    )
    from planners.tasks import summarize_success

    for index, result in enumerate(results):
        print(f"episode {index:3d} (seed {result.seed}): {episode_outcome(result)}")
    summary = _summary(results, args)
    plan_ms = summary["mean_plan_seconds"]
    print(
        str(summarize_success(results))
        + (f"; {1000 * plan_ms:.1f} ms per planning step" if plan_ms is not None else "")
    )
    if args.gif:
        path = write_episode_gif(
            results[0], args.env, args.gif, title=f"episode 0 (seed {args.seed})"
        )
        print(f"GIF of episode 0: {path}")
    if args.json:
        from mbplan.training.run_directory import write_json_atomic

        print(f"results: {write_json_atomic(args.json, summary)}")
    else:
        logger.debug("%s", json.dumps(summary))
    return 0
