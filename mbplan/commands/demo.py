"""``mbplan demo``: the whole pipeline on Robot Remote Control in minutes (see mbplan.demo)."""

from __future__ import annotations

import tyro

HELP = "run the whole pipeline (data, GateL0RD training, evaluation, iCEM MPC) into ./mbplan-demo"


def main(argv: list[str]) -> int:
    """Run ``mbplan demo``; every setting has a default, so no argument is needed."""
    import dataclasses

    from mbplan.commands.options import smoke_caps
    from mbplan.demo import DemoConfig, run_demo

    config = tyro.cli(DemoConfig, args=argv, prog="mbplan demo", description=HELP)
    fields = ("scale", "epochs", "batch_size", "eval_every", "episodes", "max_steps", "workers")
    fields += ("examples",)
    config = dataclasses.replace(
        config, **smoke_caps({name: getattr(config, name) for name in fields})
    )
    run_demo(config)
    return 0
