"""``mbplan compare``: train cores x regimes x seeds, evaluate, write one table and figures.

Example::

    mbplan compare --preset billiard --data data/bb --out runs/bb_cmp \
        --cores gatel0rd elman gru lstm --regimes tf ss --seeds 0 1 2 --workers 2 --epochs 40

Runs go to ``OUT/<core>_<regime>_s<seed>`` (finished ones are skipped, interrupted ones resumed);
``OUT/comparison.md`` holds the table (N-step MSE, mean ± std over seeds, gate statistics),
``OUT/step_errors.png`` the error against prediction step, ``OUT/learning_curves.png`` the
validation curves. Options not listed below are ``TrainConfig`` fields, as for ``mbplan train``.
"""

from __future__ import annotations

import argparse
import logging

HELP = "train several cores/regimes over seeds and write one comparison table and figure"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mbplan compare",
        description=__doc__.split("\n")[0],
        epilog="Any other option is a TrainConfig field (see 'mbplan train --help').",
    )
    parser.add_argument("--out", required=True, help="folder for the runs and the comparison")
    parser.add_argument("--cores", nargs="+", default=["gatel0rd", "elman", "gru", "lstm"])
    parser.add_argument("--regimes", nargs="+", default=["tf", "ss"], choices=["tf", "ss"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--workers", type=int, default=1, help="runs trained in parallel")
    parser.add_argument("--split", default="test", help="split evaluated (default: test)")
    parser.add_argument("--horizon", type=int, help="prediction steps N (default: whole window)")
    parser.add_argument(
        "--no-train", action="store_true", help="only evaluate and compare runs already in OUT"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``mbplan compare``; returns 0 on success."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from mbplan.commands.train import parse_config
    from mbplan.evaluation.comparison import write_comparison
    from mbplan.evaluation.report import evaluate_run
    from mbplan.training.sweep import grid_configs, run_status, train_all

    args, rest = _parser().parse_known_args(argv)
    base = parse_config(rest, "mbplan compare", "Training options shared by all runs.")
    configs = grid_configs(base, args.cores, args.regimes, args.seeds, args.out)
    if not args.no_train:
        if not base.data:
            print("mbplan compare: --data is required to train")
            return 2
        train_all(configs, workers=args.workers)
    results = [
        evaluate_run(config.out, split=args.split, horizon=args.horizon)
        for config in configs
        if run_status(config) != "new"
    ]
    if not results:
        print(f"mbplan compare: no runs found in {args.out}")
        return 1
    files = write_comparison(results, args.out)
    print(files["table"].read_text(encoding="utf-8"))
    for name, path in files.items():
        print(f"{name}: {path}")
    return 0
