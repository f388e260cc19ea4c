"""``mbplan sweep``: train a grid over any ``TrainConfig`` fields and write one results table.

Example::

    mbplan sweep --preset rrc --data data/rrc --out runs/rrc_lambda \
        --grid model.reg_lambda=0,1e-4,1e-3 seed=0:5 --epochs 200

``--grid`` takes axes ``FIELD=VALUES`` (:mod:`mbplan.training.grid`): a ``TrainConfig`` field
(``seed``, ``lr``, ``regime``, ``core``, ...), ``model.<option>`` or ``warmup.<option>``; values
are comma lists, integer fields also take half-open ranges ``a:b``. Every point of the product
trains in ``OUT/<field>=<value>,...`` (in run groups, as ``mbplan compare``; finished runs are
skipped, interrupted ones resumed, both only when their saved settings are the requested ones).
``OUT/sweep.md``, ``OUT/sweep.json`` and ``OUT/sweep.csv`` hold one row per point: the varying
fields, the best validation MSE and its epoch, the last validation MSE, the epochs, the status and
the N-step autoregressive MSE of the best checkpoint on ``--split`` (as ``mbplan compare``).
Options not listed below are ``TrainConfig`` fields shared by all points, as for
``mbplan train``. One Ctrl-C (or SIGTERM) saves every running run and stops the sweep; the same
command continues it.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys

from mbplan.commands.options import (
    add_evaluation_options,
    add_group_options,
    smoke_caps,
)
from mbplan.errors import EXIT_INTERRUPTED, UserError

HELP = "train a grid over any training settings and write one results table"


def _parser() -> argparse.ArgumentParser:
    from mbplan.training.config import PRESETS

    parser = argparse.ArgumentParser(
        prog="mbplan sweep",
        description=__doc__.split("\n")[0],
        epilog=f"Presets (--preset): {', '.join(sorted(PRESETS))}. Any other option is a "
        "TrainConfig field shared by all points (see 'mbplan train --help').",
    )
    parser.add_argument("--out", required=True, help="folder for the runs and the table")
    parser.add_argument(
        "--grid",
        nargs="+",
        required=True,
        metavar="FIELD=VALUES",
        help="axes, e.g. model.reg_lambda=0,1e-4,1e-3 seed=0:5 (a:b is half-open)",
    )
    add_group_options(parser)
    parser.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="run the groups as Ray tasks on the cluster at ADDRESS ('auto': the one started on "
        "this machine with 'ray start --head'); --out and --data must be on storage every node "
        "sees; a task whose worker dies is retried and resumes from its last checkpoint",
    )
    add_evaluation_options(parser)
    parser.add_argument(
        "--no-eval", action="store_true", help="leave out the N-step error (no evaluation)"
    )
    return parser


def _evaluate(points: list, split: str, horizon: int | None) -> dict[str, dict]:
    """``evaluate_run`` of every point whose run has a best checkpoint, by point name."""
    from mbplan.evaluation.report import evaluate_run
    from mbplan.training.run_directory import RunDirectory

    found = [p for p in points if RunDirectory(p.config.out).best_checkpoint.is_file()]
    results = {}
    for number, point in enumerate(found, start=1):
        print(f"evaluating {number} of {len(found)}: {point.config.out}")
        results[point.name] = evaluate_run(point.config.out, split=split, horizon=horizon)
    return results


def main(argv: list[str]) -> int:
    """Run ``mbplan sweep``; 0 on success, 130 after Ctrl-C / SIGTERM (runs saved)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from mbplan.commands.train import parse_config
    from mbplan.training.grid import GridError, check_models, expand_grid, parse_grid
    from mbplan.training.sweep import check_grid, train_configs
    from mbplan.training.sweep_table import write_sweep_table

    args, rest = _parser().parse_known_args(argv)
    args.workers = smoke_caps({"workers": args.workers}).get("workers", args.workers)
    base = parse_config(rest, "mbplan sweep", "Training options shared by all grid points.")
    try:
        points = expand_grid(base, parse_grid(args.grid, base), args.out)
        check_models(points)
    except GridError as err:
        raise UserError(str(err), "see 'mbplan sweep --help' for the grid syntax") from None
    if not base.data:
        raise UserError("--data is required to train", "add --data DIR")
    from mbplan.data.io import read_manifest

    read_manifest(base.data)  # a missing or broken dataset fails before any work
    configs = [point.config for point in points]
    check_grid(configs)  # a folder holding other settings is refused before any training
    print(f"mbplan sweep: {len(points)} grid points in {args.out}")
    try:
        if args.ray:
            from mbplan.training.ray_backend import connect, train_configs_ray

            connect(args.ray)
            result = train_configs_ray(configs, group_size=args.group_size, say=print)
        else:
            result = train_configs(
                configs, workers=args.workers, group_size=args.group_size, say=print
            )
    except KeyboardInterrupt:  # between groups, outside a trainer's own handling
        result = None
    if result is None or result.interrupted:
        done = 0 if result is None else len(result.finished)
        again = shlex.join(["mbplan", "sweep", *argv])
        print(
            f"mbplan sweep: interrupted; {done} of {len(points)} runs finished, the running ones "
            f"saved their checkpoints (continue with: {again})",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    evaluations = {} if args.no_eval else _evaluate(points, args.split, args.horizon)
    files = write_sweep_table(points, args.out, failed=result.failed, evaluations=evaluations)
    print(files["table"].read_text(encoding="utf-8"))
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0
