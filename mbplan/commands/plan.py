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

from mbplan.commands.options import non_negative_float, positive_int, smoke_caps

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
    "population_decay",
    "elite_reuse_fraction",
    "keep_previous_elites",
    "shift_elites",
    "mean_as_sample",
    "temperature",
)
#: option -> (type, planners that take it, help); options not listed are taken by every planner.
OPTION_DETAILS: dict[str, tuple[Any, tuple[str, ...], str]] = {
    "horizon": (int, ("icem", "cem", "mppi"), "planning horizon H"),
    "population": (int, ("icem", "cem", "mppi"), "sequences sampled (first iteration)"),
    "iterations": (int, ("icem", "cem", "mppi"), "optimisation iterations per MPC step"),
    "elites": (int, ("icem", "cem"), "elites K"),
    "noise_beta": (float, ("icem", "mppi"), "colored-noise exponent beta along the horizon"),
    "init_std": (float, ("icem", "cem", "mppi"), "initial std relative to the box half range"),
    "alpha": (float, ("icem", "cem"), "momentum on the old mean and std"),
    "population_decay": (float, ("icem",), "iCEM gamma >= 1: population shrink per iteration"),
    "elite_reuse_fraction": (float, ("icem",), "iCEM xi in [0, 1]: fraction of elites reused"),
    "keep_previous_elites": (bool, ("icem",), "iCEM: keep the best elites between iterations"),
    "shift_elites": (bool, ("icem",), "iCEM: shift the best elites to the next MPC step"),
    "mean_as_sample": (bool, ("icem",), "iCEM: the mean is a sample in the last iteration"),
    "temperature": (float, ("mppi",), "MPPI temperature lambda > 0, in cost units"),
}
#: option -> (lowest, highest, whether the lowest is excluded), checked before planning.
OPTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "noise_beta": (0.0, float("inf"), False),
    "init_std": (0.0, float("inf"), True),
    "alpha": (0.0, 1.0, False),
    "population_decay": (1.0, float("inf"), False),
    "elite_reuse_fraction": (0.0, 1.0, False),
    "temperature": (0.0, float("inf"), True),
}

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
    reduction: str = "sum",
    warmup_action: Sequence[float] | None = None,
    nan_check: bool = False,
    fixed_shape: bool = False,
    mask_terminal: bool = False,
    action_penalty: float = 0.0,
    action_smoothness: float = 0.0,
    compile_rollout: bool = False,
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
        reduction: how step costs are reduced along the horizon (``sum``, ``best``, ``final``).
        warmup_action: action of the model's ``k`` warm-up steps; the task's when ``None``.
        nan_check: let the world model check its inputs for NaN/inf in every rollout and filter
            step (host synchronisations every MPC step); off by default.
        fixed_shape: plan with preallocated buffers and no host sync inside a step (same plans).
        mask_terminal: leave the steps after a predicted termination out of the plans' costs.
        action_penalty: weight of ``||a_t||^2`` added to every step cost (0: none).
        action_smoothness: weight of ``||a_t - a_{t-1}||^2`` added to every step cost (0: none).
        compile_rollout: plan through the model's ``torch.compile`` rollout
            (:class:`mbplan.models.compiled.CompiledRollout`; a learned model only).

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
    terms = []
    if action_penalty:
        terms.append(planners.ActionPenalty(action_penalty))
    if action_smoothness:
        terms.append(planners.ActionSmoothness(action_smoothness))
    if terms:
        task = planners.CostWithTerms(task, terms)
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
    chosen = planning.planner_options(planner_options)
    mpc_planner = make_planner(
        planner, low, high, seed=seed, device=device, fixed_shape=fixed_shape, **chosen
    )
    if compile_rollout:
        if model is None:
            raise ValueError(
                "compile_rollout: the ground-truth simulator has no rollout to compile"
            )
        if hasattr(model, "rollout_members"):
            raise ValueError(
                "compile_rollout: an ensemble is costed member by member; plan it uncompiled"
            )
        from mbplan.models.compiled import CompiledRollout

        model = CompiledRollout(model)
    warm = planning.warmup_action if warmup_action is None else tuple(warmup_action)
    model_kwargs = None if model is None else {"check_nan": bool(nan_check)}
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
            warmup_action=warm,
            reduction=reduction,
            mask_terminal=mask_terminal,
            rollout_kwargs=model_kwargs,
            step_kwargs=model_kwargs,
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
    source.add_argument(
        "--run",
        metavar="RUN_DIR",
        nargs="+",
        help="training run whose model plans; several runs plan as an ensemble (the mean of the "
        "members' costs)",
    )
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
        kind, takers, text = OPTION_DETAILS[name]
        flag = f"--{name.replace('_', '-')}"
        where = "" if len(takers) == len(PLANNERS) else f"; {'/'.join(takers)} only"
        text += f" (the task default, else the planner's{where})"
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        else:
            parser.add_argument(flag, type=kind, help=text)
    parser.add_argument(
        "--reduction",
        choices=("sum", "best", "final"),
        default="sum",
        help="how step costs are reduced along the horizon (sum)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run the model's planning rollout through torch.compile (the first planning step "
        "compiles: about 45 s on 2 CPU cores, a few seconds with a warm cache; then faster steps)",
    )
    parser.add_argument(
        "--mask-terminal",
        action="store_true",
        help="leave the steps after a predicted termination (RRC: robot within 0.1 of the goal; "
        "Shepherd: sheep caught) out of each plan's cost",
    )
    parser.add_argument(
        "--action-penalty",
        type=non_negative_float,
        default=0.0,
        metavar="W",
        help="add W * ||a_t||^2 to every step cost (0)",
    )
    parser.add_argument(
        "--action-smoothness",
        type=non_negative_float,
        default=0.0,
        metavar="W",
        help="add W * ||a_t - a_(t-1)||^2 to every step cost (0)",
    )
    parser.add_argument(
        "--warmup-action",
        metavar="A0,A1,...",
        help="action of the model's k warm-up steps, comma-separated (the task's, else the "
        "action box midpoint)",
    )
    parser.add_argument(
        "--nan-check",
        action="store_true",
        help="check the model's inputs for NaN/inf in every rollout and filter step (host syncs "
        "every MPC step; off by default)",
    )
    parser.add_argument(
        "--fixed-shape",
        action="store_true",
        help="plan with preallocated buffers and no host sync inside an MPC step (same plans; "
        "a plan without a finite cost is reported at the end of its episode)",
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
        "model": "ground-truth" if args.ground_truth else " ".join(args.run),
        "planner": args.planner,
        "planner_options": planning_task(args.env).planner_options(chosen),
        "reduction": args.reduction,
        "mask_terminal": args.mask_terminal,
        "compile": args.compile,
        "action_penalty": args.action_penalty,
        "action_smoothness": args.action_smoothness,
        "fixed_shape": args.fixed_shape,
        "nan_check": args.nan_check,
        "nonfinite_plans": sum(bool(getattr(r, "nonfinite_plan", False)) for r in results),
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


def parse_warmup_action(text: str | None, env_id: str) -> tuple[float, ...] | None:
    """``--warmup-action "0,0,1"`` as floats, checked against the env's action space.

    Raises:
        UserError: for a non-number, the wrong length, or an action outside the box.
    """
    from mbplan.errors import UserError

    if text is None:
        return None
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise UserError(
            f"--warmup-action: expected comma-separated numbers, got {text!r}", "e.g. 0,0,1"
        ) from None
    import gymnasium as gym

    import sims  # noqa: F401  (registers the envs)

    space = gym.make(env_id).action_space
    if len(values) != space.shape[0]:
        raise UserError(
            f"--warmup-action: {env_id} has {space.shape[0]} action dimensions, got {len(values)}",
            f"give {space.shape[0]} comma-separated numbers",
        )
    inside = np.all(np.asarray(values) >= space.low) and np.all(np.asarray(values) <= space.high)
    if not inside or not np.all(np.isfinite(values)):
        raise UserError(
            f"--warmup-action: {list(values)} is outside the action box",
            f"each entry between {space.low.tolist()} and {space.high.tolist()}",
        )
    return values


def check_planner_options(args: argparse.Namespace) -> None:
    """Refuse options the chosen planner does not take, and values outside their range.

    Raises:
        UserError: naming the option.
    """
    from mbplan.errors import UserError

    if getattr(args, "compile", False) and args.ground_truth:
        raise UserError(
            "--compile compiles a learned model's rollout; --ground-truth plans with the simulator",
            "drop one of them",
        )
    for name in PLANNER_OPTIONS:
        value = getattr(args, name)
        if value is None:
            continue
        flag = f"--{name.replace('_', '-')}"
        takers = OPTION_DETAILS[name][1]
        if args.planner not in takers:
            raise UserError(
                f"{flag} is not an option of --planner {args.planner}",
                f"it applies to --planner {'/'.join(takers)}; drop it",
            )
        if name in OPTION_RANGES:
            low, high, open_low = OPTION_RANGES[name]
            below = value <= low if open_low else value < low
            if np.isnan(value) or below or value > high:
                interval = f"{'(' if open_low else '['}{low}, {high}]"
                raise UserError(f"{flag} must lie in {interval}, got {value}")


def main(argv: list[str]) -> int:
    """Run ``mbplan plan``; returns 0 on success, 2 on bad arguments."""
    from mbplan.errors import check_device

    args = _parser().parse_args(argv)
    check_device(args.device)
    check_planner_options(args)
    warmup_action = parse_warmup_action(args.warmup_action, args.env)
    capped = ("episodes", "max_steps", "population", "horizon", "iterations", "elites")
    for name, value in smoke_caps({name: getattr(args, name) for name in capped}).items():
        setattr(args, name, value)
    model = None
    if args.run:
        from mbplan.evaluation.report import load_run_model

        models = [
            load_run_model(run, which=args.checkpoint, device=args.device)[0] for run in args.run
        ]
        if len(models) == 1:
            model = models[0]
        else:
            from mbplan.models.ensemble import WorldModelEnsemble

            model = WorldModelEnsemble(models)
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
        reduction=args.reduction,
        warmup_action=warmup_action,
        nan_check=args.nan_check,
        fixed_shape=args.fixed_shape,
        mask_terminal=args.mask_terminal,
        action_penalty=args.action_penalty,
        action_smoothness=args.action_smoothness,
        compile_rollout=args.compile,
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
