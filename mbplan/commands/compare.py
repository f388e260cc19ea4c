"""``mbplan compare``: train cores x regimes x seeds, evaluate, write one table and figures.

Example::

    mbplan compare --preset billiard --data data/bb --out runs/bb_cmp \
        --cores gatel0rd elman gru lstm --regimes tf ss --seeds 0 1 2 --workers 2 --epochs 40

Runs go to ``OUT/<core>_<regime>_s<seed>`` (finished ones are skipped, interrupted ones resumed,
both only when their saved settings are the requested ones); ``OUT/comparison.md`` holds the table
(N-step MSE, mean ± std over seeds, gate statistics), ``OUT/step_errors.png`` the error against
prediction step, ``OUT/learning_curves.png`` the validation curves. Options not listed below are
``TrainConfig`` fields, as for ``mbplan train``. One Ctrl-C (or SIGTERM) saves every running run
and stops the sweep; the same command continues it.
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

HELP = "train several cores/regimes over seeds and write one comparison table and figure"


def _parser() -> argparse.ArgumentParser:
    from mbplan.models import CORES
    from mbplan.training.config import PRESETS

    parser = argparse.ArgumentParser(
        prog="mbplan compare",
        description=__doc__.split("\n")[0],
        epilog=f"Cores: {', '.join(CORES)}. Presets (--preset): {', '.join(sorted(PRESETS))}. "
        "Any other option is a TrainConfig field (see 'mbplan train --help').",
    )
    parser.add_argument("--out", required=True, help="folder for the runs and the comparison")
    parser.add_argument(
        "--cores",
        nargs="+",
        default=["gatel0rd", "elman", "gru", "lstm"],
        help=f"cores to train, each once (from: {', '.join(CORES)})",
    )
    parser.add_argument("--regimes", nargs="+", default=["tf", "ss"], choices=["tf", "ss"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2], help="each once")
    add_group_options(parser)
    add_evaluation_options(parser)
    parser.add_argument(
        "--no-train", action="store_true", help="only evaluate and compare runs already in OUT"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``mbplan compare``; 0 on success, 130 after Ctrl-C / SIGTERM (runs saved)."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from mbplan.commands.train import parse_config
    from mbplan.evaluation.comparison import write_comparison
    from mbplan.evaluation.report import evaluate_run
    from mbplan.training.sweep import check_grid, grid_configs, run_status, train_all

    args, rest = _parser().parse_known_args(argv)
    args.workers = smoke_caps({"workers": args.workers}).get("workers", args.workers)
    base = parse_config(rest, "mbplan compare", "Training options shared by all runs.")
    configs = grid_configs(base, args.cores, args.regimes, args.seeds, args.out)
    if not args.no_train:
        if not base.data:
            raise UserError("--data is required to train", "add --data DIR, or pass --no-train")
        from mbplan.data.io import read_manifest

        read_manifest(base.data)  # a missing or broken dataset fails before any work
        check_grid(configs)
        try:
            sweep = train_all(configs, workers=args.workers, say=print, group_size=args.group_size)
        except KeyboardInterrupt:  # between runs, outside a trainer's own handling
            sweep = None
        if sweep is None or sweep.interrupted:
            done = 0 if sweep is None else len(sweep.finished)
            again = shlex.join(["mbplan", "compare", *argv])
            print(
                f"mbplan compare: interrupted; {done} of {len(configs)} runs finished, the running "
                f"ones saved their checkpoints (continue with: {again})",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
    results = []
    found = [config for config in configs if run_status(config) != "new"]
    for number, config in enumerate(found, start=1):
        print(f"evaluating {number} of {len(found)}: {config.out}")
        results.append(evaluate_run(config.out, split=args.split, horizon=args.horizon))
    if not results:
        raise UserError(f"no runs found in {args.out}", "train them first: drop --no-train")
    files = write_comparison(results, args.out)
    print(files["table"].read_text(encoding="utf-8"))
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0
