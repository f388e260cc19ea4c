"""``mbplan evaluate``: autoregressive N-step error, gate statistics and figures of a trained run.

Example::

    mbplan evaluate runs/bb_g_tf --data data/bb --horizon 50 --plots runs/bb_g_tf/plots

Writes ``RUN_DIR/evaluation_<split>.json`` (or ``--json PATH``) and prints the headline numbers.
"""

from __future__ import annotations

import argparse
import json

from mbplan.commands.options import positive_int, smoke_caps

HELP = "evaluate a trained run: N-step prediction error, gate statistics, plots"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mbplan evaluate", description=__doc__.split("\n")[0])
    parser.add_argument("run_dir", help="run folder written by 'mbplan train'")
    parser.add_argument("--data", help="dataset directory (default: the run's training data)")
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument(
        "--horizon", type=positive_int, help="prediction steps N (default: whole window)"
    )
    parser.add_argument("--plots", metavar="DIR", help="write figures into DIR")
    parser.add_argument(
        "--checkpoint", choices=("best", "last"), default="best", help="which model to evaluate"
    )
    parser.add_argument("--subsets", nargs="+", help="subsets to evaluate (default: the run's)")
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument("--json", metavar="PATH", help="results file (default: in the run folder)")
    parser.add_argument("--full", action="store_true", help="print the whole results JSON")
    parser.add_argument(
        "--examples", type=positive_int, help="example figures of the first N subsets only (all)"
    )
    return parser


def main(argv: list[str]) -> int:
    """Run ``mbplan evaluate``; returns 0 on success."""
    from mbplan.errors import check_device
    from mbplan.evaluation.report import evaluate_run

    args = _parser().parse_args(argv)
    check_device(args.device)
    args.examples = smoke_caps({"examples": args.examples}).get("examples", args.examples)
    results = evaluate_run(
        args.run_dir,
        data=args.data,
        split=args.split,
        horizon=args.horizon,
        plots_dir=args.plots,
        which=args.checkpoint,
        subsets=tuple(args.subsets) if args.subsets else None,
        device=args.device,
        output=args.json,
        examples=args.examples,
    )
    if args.full:
        print(json.dumps(results, indent=2))
        return 0
    run = results["run"]
    print(
        f"{run['core']} ({run['regime']}), epoch {run['epoch']}, split {run['split']}: "
        f"{results['horizon']}-step MSE {results['mse']:.6g} over {results['n']} sequences"
    )
    for name, entry in results["subsets"].items():
        print(f"  {name:<28} n={entry['n']:<6} MSE {entry['mse']:.6g}")
    if results["gates"] is not None:
        gates = results["gates"]
        print(
            "  gates: rate {gate_rate:.4f}, steps with an opening {open_step_fraction:.4f}, "
            "dims used {dims_used:.4f}, openings per sequence {openings_per_sequence:.2f}".format(
                **gates
            )
        )
    if "reappearance" in results:
        print(f"  reappearance error {results['reappearance']['mse']:.6g}")
    return 0
