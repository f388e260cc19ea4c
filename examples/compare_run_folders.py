"""One comparison (table, learning curves, error per step) of evaluated runs from several grids.

``mbplan compare --no-train`` compares the runs of one grid folder. Runs of one study are
sometimes trained in several grids (two cores on one day, two more later) or only some of their
runs are kept (the shipped seed-0 checkpoints); this script compares any run folders that hold an
``evaluation_<split>.json`` (written by ``mbplan compare`` or ``mbplan evaluate``), grouped by core
and regime as ``mbplan compare`` does, for each split given::

    python examples/compare_run_folders.py runs/rrc60k_eg/*_ss_s? \
        examples/checkpoints/rrc_60k/*_ss_s0 --splits test generalization_test \
        --out docs/results --prefix rrc_60k_four_ --title "RRC, 60k updates"

Writes, per split, ``OUT/<prefix><split>_comparison.md``/``.json``, ``..._step_errors.png`` and
``..._learning_curves.png`` (``mbplan.evaluation.comparison.write_comparison``).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from mbplan.evaluation.comparison import markdown_table, summarize, write_comparison


def load_results(runs: list[Path], split: str) -> list[dict[str, Any]]:
    """The ``evaluation_<split>.json`` of every run, pointing at the folder it was read from.

    Raises:
        SystemExit: naming the runs without that evaluation.
    """
    missing = [str(run) for run in runs if not (run / f"evaluation_{split}.json").is_file()]
    if missing:
        raise SystemExit(f"no evaluation_{split}.json in: {', '.join(missing)}")
    results = []
    for run in runs:
        result = json.loads((run / f"evaluation_{split}.json").read_text())
        result["run"]["run_dir"] = str(run)  # the folder may have moved since it was evaluated
        results.append(result)
    core_order = list(dict.fromkeys(result["run"]["core"] for result in results))
    return sorted(results, key=lambda r: (core_order.index(r["run"]["core"]), r["run"]["seed"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders")
    parser.add_argument("--splits", nargs="+", default=["test"], help="evaluated splits")
    parser.add_argument("--out", type=Path, required=True, help="folder for the files")
    parser.add_argument("--prefix", default="", help="prefix of every file name")
    parser.add_argument("--title", default="", help="figure title prefix")
    args = parser.parse_args(argv)
    for split in args.splits:
        results = load_results(args.runs, split)
        write_comparison(
            results, args.out, title=f"{args.title} ({split})", prefix=f"{args.prefix}{split}_"
        )
        print(f"{split}:\n{markdown_table(summarize(results))}")


if __name__ == "__main__":
    main()
