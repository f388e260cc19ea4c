"""Option types shared by the subcommands' parsers (so that bad values fail before any work)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any


def _argument(text: str, parse: type, ok: Callable[[Any], bool], expected: str) -> Any:
    """``parse(text)`` if ``ok`` of it, else an ``argparse`` error naming ``expected``."""
    try:
        value = parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if not ok(value):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
    return value


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1 (``--horizon 0`` is refused at parse time).

    Raises:
        argparse.ArgumentTypeError: for anything else; argparse prints it and exits with 2.
    """
    return _argument(text, int, lambda value: value >= 1, "an integer >= 1")


def non_negative_float(text: str) -> float:
    """``argparse`` type: a finite float >= 0 (a weight; ``nan`` and negatives are refused).

    Raises:
        argparse.ArgumentTypeError: for anything else; argparse prints it and exits with 2.
    """
    return _argument(text, float, lambda value: 0.0 <= value < math.inf, "a finite number >= 0")


#: environment variable that caps every budget for smoke tests (the README test sets it).
SMOKE_ENV = "MBPLAN_SMOKE"
#: the caps under ``MBPLAN_SMOKE=1``: option -> largest value used.
SMOKE_CAPS: dict[str, float] = {
    "scale": 0.005,
    "epochs": 2,
    "batches_per_epoch": 2,
    "eval_every": 1,
    "batch_size": 16,
    "episodes": 2,
    "max_steps": 6,
    "population": 8,
    "horizon": 5,
    "iterations": 1,
    "elites": 3,
    "workers": 1,  # no worker processes to start
    "examples": 2,  # example figures of 2 subsets
    "num_seq": 64,  # HMM emulation: sequences per training / evaluation set
    "warmup_steps": 2,  # VAA* warmup gradient steps
}


def smoke_test() -> bool:
    """Whether ``MBPLAN_SMOKE`` asks for smoke-test budgets (any value but empty or ``0``)."""
    import os

    return os.environ.get(SMOKE_ENV, "") not in ("", "0")


def smoke_caps(values: dict[str, object]) -> dict[str, object]:
    """The entries of ``values`` that ``MBPLAN_SMOKE`` lowers, with their capped values.

    Args:
        values: option name -> the value asked for (``None``: the default, which is capped too).

    Returns:
        ``{}`` when ``MBPLAN_SMOKE`` is unset; else the options of :data:`SMOKE_CAPS` whose value
        is missing or above the cap, mapped to the cap (a warning line says so once).
    """
    if not smoke_test():
        return {}
    changed: dict[str, object] = {}
    for name, value in values.items():
        cap = SMOKE_CAPS.get(name)
        if cap is not None and (value is None or value > cap):  # type: ignore[operator]
            changed[name] = type(value)(cap) if value is not None else cap
    if changed:
        import logging

        logging.getLogger("mbplan").warning("%s is set: budgets capped to %s", SMOKE_ENV, changed)
    return changed


def add_group_options(parser: argparse.ArgumentParser) -> None:
    """``--workers`` and ``--group-size``, shared by the commands that train many runs."""
    parser.add_argument(
        "--workers", type=positive_int, default=1, help="run groups trained in parallel processes"
    )
    parser.add_argument(
        "--group-size",
        type=positive_int,
        default=None,
        help="runs of one core and shape trained together as one batched model (default: 16 on "
        "CPU, 64 on CUDA; 1: every run alone)",
    )


def add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """``--split`` and ``--horizon`` of the N-step evaluation, shared by compare and sweep."""
    parser.add_argument("--split", default="test", help="split evaluated (default: test)")
    parser.add_argument(
        "--horizon", type=positive_int, help="prediction steps N (default: whole window)"
    )
