"""``mbplan train``: train a world model with teacher forcing or scheduled sampling.

Examples::

    mbplan train --preset billiard --core gatel0rd --regime tf --data data/bb --out runs/bb_g_tf
    mbplan train --preset billiard --core gru --regime ss --data data/bb --out runs/x --epochs 50 \
        --model.reg-lambda 0.01
    mbplan train --resume runs/bb_g_tf            # continue after Ctrl-C
    mbplan train --resume runs/bb_g_tf --epochs 200  # extend a finished run

Every field of ``mbplan.training.config.TrainConfig`` is an option (``--help`` lists them with the
preset's values as defaults); ``--model.<name>`` overrides one entry of the task's model preset.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mbplan.commands.options import smoke_caps
from mbplan.errors import EXIT_INTERRUPTED, UserError

if TYPE_CHECKING:
    from mbplan.training.config import TrainConfig

HELP = "train a world model (teacher forcing or scheduled sampling); resume a run"


def _model_defaults(task: str, core: str | None) -> dict:
    """The task's model kwargs and the core's cell options, each a ``--model.<name>`` option."""
    from mbplan.models import preset
    from mbplan.models.registry import CELL_OPTIONS

    try:
        values = dict(preset(task))
    except ValueError:  # a task without a model preset: sizes must be given explicitly
        values = {}
    options = CELL_OPTIONS.get(core, {}) if core else {}
    values.update({key: value for key, value in options.items() if value is not None})
    values.setdefault("double", False)  # double layers (two half cells), for partial warmup
    return values


def parse_config(argv: Sequence[str], prog: str, description: str) -> TrainConfig:
    """Parse ``--preset NAME`` and then every ``TrainConfig`` field from ``argv``.

    Args:
        argv: command-line arguments (``--preset`` may appear anywhere; default ``billiard``).
        prog: program name shown in ``--help``.
        description: help text.

    Returns:
        The ``TrainConfig`` with the preset's values overridden by the given options.
    """
    import tyro

    from mbplan.models import CORES
    from mbplan.training.config import PRESETS, preset_config

    first = argparse.ArgumentParser(add_help=False)
    first.add_argument("--preset", default="billiard", choices=sorted(PRESETS))
    first.add_argument("--task")
    first.add_argument("--core")
    known, rest = first.parse_known_args(list(argv))
    rest += [f"--{name}={value}" for name in ("task", "core") if (value := getattr(known, name))]
    default = preset_config(known.preset)
    # the core's cell options become options only when --core names it (compare trains many)
    model = _model_defaults(known.task or default.task, known.core)
    default = default.replace(model={**model, **default.model})
    config = tyro.cli(
        type(default),
        args=rest,
        default=default,
        prog=prog,
        description=f"{description}\n\n--preset {{{','.join(sorted(PRESETS))}}} picks the "
        f"defaults (now: {known.preset}). Cores (--core): {', '.join(CORES)}.",
        config=(tyro.conf.FlagConversionOff,),
    )
    fields = ("epochs", "batches_per_epoch", "eval_every", "batch_size")
    config = config.replace(**smoke_caps({name: getattr(config, name) for name in fields}))
    if config.warmup.steps > 0 and (steps := smoke_caps({"warmup_steps": config.warmup.steps})):
        config = config.replace(
            warmup=dataclasses.replace(config.warmup, steps=int(steps["warmup_steps"]))
        )
    return config


def _resume_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="mbplan train --resume", description="Continue an interrupted or finished run."
    )
    parser.add_argument("--resume", required=True, metavar="RUN_DIR", help="the run to continue")
    parser.add_argument("--epochs", type=int, help="new total number of epochs (to extend a run)")
    parser.add_argument("--device", help="torch device (default: the run's)")
    parser.add_argument("--data", help="dataset directory (default: the run's)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(list(argv))


def main(argv: list[str]) -> int:
    """Run ``mbplan train``; 0 when done, 130 after Ctrl-C / SIGTERM, 1 on a non-finite loss."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from mbplan.training.trainer import NonFiniteLossError, Trainer

    if any(arg == "--resume" or arg.startswith("--resume=") for arg in argv):
        args = _resume_arguments(argv)
        overrides = {
            key: value
            for key in ("epochs", "device", "data")
            if (value := getattr(args, key)) is not None
        }
        if args.no_progress:
            overrides["progress"] = False
        if "epochs" in overrides:
            overrides.update(smoke_caps({"epochs": overrides["epochs"]}))
        trainer = Trainer.resume(args.resume, **overrides)
        print(
            f"resuming {args.resume} at epoch {trainer.position.epoch}, "
            f"batch {trainer.position.batch}"
        )
    else:
        config = parse_config(argv, "mbplan train", "Train a world model.")
        if not config.data or not config.out:
            raise UserError(
                "--data and --out are required", "e.g. --data data/bb --out runs/bb_g_tf"
            )
        trainer = Trainer(config)
        print(f"training {config.core} ({config.regime}) on {config.data} -> {config.out}")
    try:
        result = trainer.fit()
    except NonFiniteLossError as err:
        print(f"mbplan train: {err}", file=sys.stderr)
        return 1
    if result.interrupted:
        print(
            f"interrupted at epoch {result.epochs_done}, batch {result.batches_done}; "
            f"{result.run_dir / 'last.pt'} saved. Continue with: mbplan train --resume "
            f"{result.run_dir}"
        )
        return EXIT_INTERRUPTED
    print(
        f"done: {result.epochs_done} epochs, best validation MSE {result.best_val_mse:.6g} "
        f"at epoch {result.best_epoch}; run in {result.run_dir}"
    )
    return 0
