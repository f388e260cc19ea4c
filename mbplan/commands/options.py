"""Option types shared by the subcommands' parsers (so that bad values fail before any work)."""

from __future__ import annotations

import argparse


def positive_int(text: str) -> int:
    """``argparse`` type: an integer >= 1 (``--horizon 0`` is refused at parse time).

    Raises:
        argparse.ArgumentTypeError: for anything else; argparse prints it and exits with 2.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value
