"""``mbplan hmm``: train noise-driven RNNs to emulate HMMs and measure their emission statistics.

Examples::

    mbplan hmm train --family two --out runs/hmm_two --batch-size 4096
    mbplan hmm train --family two --out runs/hmm_two          # rerun to resume
    mbplan hmm evaluate runs/hmm_two --num-seq 2000 --seq-len 100

``train`` takes every field of :class:`~mbplan.hmm.training.HMMTrainConfig` as an option (the
reference's defaults; sequence length, epochs and clipping from the family). ``evaluate`` writes
``RUN_DIR/emission_report.json``: the Sinkhorn-matched distances HMM-RNN against HMM-HMM, the
symbol transition matrices, volatility and output frequencies.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys

HELP = "HMM emulation: train a noise-driven RNN on an HMM (train), emission statistics (evaluate)"


def _train(argv: list[str]) -> int:
    import tyro

    from mbplan.commands.options import smoke_caps
    from mbplan.hmm.training import HMMTrainConfig, train_emulator

    config = tyro.cli(
        HMMTrainConfig, args=argv, prog="mbplan hmm train", config=(tyro.conf.FlagConversionOff,)
    )
    fields = ("num_seq", "batch_size", "epochs")
    config = dataclasses.replace(
        config, **smoke_caps({name: getattr(config, name) for name in fields})
    )
    result = train_emulator(config)
    print(
        f"done: best validation Sinkhorn loss {result['best_val_loss']:.4f} at epoch "
        f"{result['best_epoch']}; run in {result['run']}"
    )
    return 0


def _evaluate(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="mbplan hmm evaluate", description="emission statistics")
    parser.add_argument("run_dir", help="run folder written by 'mbplan hmm train'")
    parser.add_argument("--num-seq", type=int, default=5000, help="sequences per set (5000)")
    parser.add_argument("--seq-len", type=int, default=100, help="steps per sequence (100)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the evaluation sets")
    parser.add_argument("--checkpoint", choices=("best", "last"), default="best")
    args = parser.parse_args(argv)
    from mbplan.commands.options import smoke_caps

    args.num_seq = smoke_caps({"num_seq": args.num_seq}).get("num_seq", args.num_seq)
    import torch

    from mbplan.hmm.metrics import emission_report
    from mbplan.hmm.models import hmm_family
    from mbplan.hmm.training import load_emulator
    from mbplan.training.run_directory import RunDirectory, write_json_atomic

    run = RunDirectory(args.run_dir)
    config = run.read_config()
    path = run.best_checkpoint if args.checkpoint == "best" else run.last_checkpoint
    emulator = load_emulator(path)
    report = emission_report(
        hmm_family(config["family"]).build(),
        emulator,
        num_seq=args.num_seq,
        seq_len=args.seq_len,
        generator=torch.Generator().manual_seed(args.seed),
    )
    report["family"] = config["family"]
    write_json_atomic(run.path / "emission_report.json", report)
    rnn, base = report["distance_hmm_rnn"], report["distance_hmm_hmm"]
    print(
        f"{config['family']}: matched distance HMM-RNN {rnn['mean']:.3f} +- {rnn['std']:.3f}, "
        f"HMM-HMM {base['mean']:.3f} +- {base['std']:.3f}; transition sq. diff "
        f"{report['transition_squared_difference']:.2e}"
    )
    print(json.dumps({k: report[k] for k in ("frequencies_hmm", "frequencies_rnn")}))
    return 0


def main(argv: list[str]) -> int:
    """Run ``mbplan hmm``; returns 0 on success."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    commands = {"train": _train, "evaluate": _evaluate}
    if argv[0] not in commands:
        print(
            f"mbplan hmm: unknown subcommand {argv[0]!r} "
            "(use 'mbplan hmm train' or 'mbplan hmm evaluate')",
            file=sys.stderr,
        )
        return 2
    return commands[argv[0]](argv[1:])
