"""``mbplan generate``: make a dataset from a named recipe or from any env and policy.

Examples::

    mbplan generate shepherd-paper --scale 0.05 --out data/shepherd --workers 2
    mbplan generate --env mbplan/RobotRemoteControl-v0 --policy uniform --episodes 100
        --steps 50 --out data/rrc-uniform

Rerunning the same command resumes an interrupted run, or does nothing if the dataset is
complete; a directory holding a different dataset is refused unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

HELP = "generate a dataset from a recipe (billiard-paper, rrc-paper, shepherd-paper) or env+policy"


def _parser() -> argparse.ArgumentParser:
    from mbplan.data.policies import POLICIES
    from mbplan.data.recipes import RECIPES

    parser = argparse.ArgumentParser(
        prog="mbplan generate",
        description=HELP,
        epilog="Rerun the same command to resume an interrupted run.",
    )
    parser.add_argument(
        "recipe", nargs="?", help=f"recipe name: {', '.join(RECIPES)} (or use --env/--policy)"
    )
    parser.add_argument("--out", required=True, help="dataset directory (created if missing)")
    parser.add_argument("--scale", type=float, default=1.0, help="recipe size factor in (0, 1]")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--shard-size", type=int, default=500, help="episodes per shard file")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a different dataset found in --out"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    generic = parser.add_argument_group("generic form (instead of a recipe)")
    generic.add_argument("--env", help="gymnasium env id, e.g. mbplan/Shepherd-v0")
    generic.add_argument("--policy", help=f"policy name: {', '.join(POLICIES)}")
    generic.add_argument("--episodes", type=int, help="number of episodes")
    generic.add_argument("--steps", type=int, help="transitions per episode")
    generic.add_argument("--env-kwargs", default="{}", help="JSON object for gym.make")
    generic.add_argument("--policy-params", default="{}", help="JSON object for the policy")
    return parser


def _json_object(text: str, option: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{option}: expected a JSON object, got {text!r} ({err})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option}: expected a JSON object, got {text!r}")
    return value


def main(argv: list[str]) -> int:
    """Run ``mbplan generate``; return the exit status (0 ok, 1 failed, 2 bad usage)."""
    parser = _parser()
    args = parser.parse_args(argv)
    generic = (args.env, args.policy, args.episodes, args.steps)
    if args.recipe is not None and any(value is not None for value in generic):
        parser.error("give either a recipe or --env/--policy/--episodes/--steps, not both")
    if args.recipe is None and any(value is None for value in generic):
        parser.error("give a recipe, or all of --env, --policy, --episodes and --steps")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from mbplan.commands.options import smoke_caps
    from mbplan.data import generate, generic_spec, make_recipe

    for name, value in smoke_caps(
        {"scale": args.scale, "episodes": args.episodes, "workers": args.workers}
    ).items():
        if name != "episodes" or args.episodes is not None:
            setattr(args, name, value)

    try:
        if args.recipe is not None:
            spec = make_recipe(args.recipe, args.scale, args.seed)
        else:
            spec = generic_spec(
                args.env,
                args.policy,
                args.episodes,
                args.steps,
                args.seed,
                env_kwargs=_json_object(args.env_kwargs, "--env-kwargs"),
                policy_params=_json_object(args.policy_params, "--policy-params"),
            )
        report = generate(
            spec,
            args.out,
            workers=args.workers,
            overwrite=args.overwrite,
            shard_size=args.shard_size,
            progress=not args.quiet,
        )
    except RuntimeError as err:  # a worker died or the filters reject everything: rerun resumes
        print(f"mbplan generate: {err}", file=sys.stderr)
        return 1
    if not report.generated:
        print(f"{args.out}: already complete, nothing to do")
    print(f"{'subset':<32} {'episodes':>8} {'attempts':>9} {'acceptance':>10}")
    for subset in report.subsets:
        print(
            f"{subset.label:<32} {subset.count:>8} {subset.attempts:>9} "
            f"{subset.acceptance_rate:>10.2%}"
        )
    if report.generated:
        print(
            f"{report.wall_seconds:.1f} s with {report.workers} worker(s); "
            f"{report.steps_per_worker_second:,.0f} env steps/s per worker"
        )
    return 0
