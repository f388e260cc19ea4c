"""``mbplan data info DIR``: describe a generated dataset.

Prints the recipe, env, seed and software versions, the shapes, each subset's episode count,
attempts, acceptance rate and split sizes, and the value range of every array dimension. Reading
the shards verifies their checksums, so this also checks a dataset after copying it.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

HELP = "inspect a dataset directory: subsets, counts, shapes, acceptance rates, value ranges"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mbplan data", description=HELP)
    commands = parser.add_subparsers(dest="action", required=True)
    info = commands.add_parser("info", help="describe the dataset in DIR")
    info.add_argument("dir", help="dataset directory (holding manifest.json)")
    info.add_argument("--no-verify", action="store_true", help="skip the SHA-256 checks")
    return parser


def _split_sizes(split: dict[str, Any]) -> str:
    if split["kind"] == "random":
        parts = [f"{name} {size}" for name, size in split["sizes"]]
        return ", ".join(parts) + f" (random, seed {split['seed']})"
    return ", ".join(f"{name} [{start}, {stop})" for name, start, stop in split["ranges"])


def _ranges(names: list[str], stats: Any, *, flags: bool = False) -> list[str]:
    lines = []
    for k, name in enumerate(names):
        low, high, mean = stats.minimum[k], stats.maximum[k], stats.mean[k]
        if flags:
            lines.append(f"    {name:<18} set in {mean:7.2%} of time steps")
        else:
            lines.append(f"    {name:<18} [{low: .4f}, {high: .4f}]  mean {mean: .4f}")
    return lines


def describe(root: Path, verify: bool = True) -> str:
    """Return the text ``mbplan data info`` prints for the dataset in ``root``."""
    from mbplan.data.io import read_manifest
    from mbplan.data.summary import array_statistics

    manifest = read_manifest(root)
    written = sum(s["episodes"] for sub in manifest["subsets"] for s in sub["shards"])
    wanted = sum(sub["count"] for sub in manifest["subsets"])
    status = "complete" if manifest["complete"] else f"INCOMPLETE ({written} of {wanted} episodes)"
    steps = manifest["steps"]
    lines = [
        f"dataset      {root} ({status})",
        f"recipe       {manifest['recipe'] or '(generic)'}  scale {manifest['scale']}  "
        f"seed {manifest['seed']}",
        f"env          {manifest['env']['id']}  kwargs {manifest['env']['kwargs']}",
        f"versions     mbplan {manifest['mbplan_version']}, "
        + ", ".join(f"{k} {v}" for k, v in manifest["versions"].items()),
        f"episodes     {steps} steps: observations ({steps + 1}, {manifest['obs_dim']}), "
        f"actions ({steps}, {manifest['action_dim']}), "
        f"flags ({steps + 1}, {len(manifest['flag_names'])}) {manifest['flag_names']}, float32",
    ]
    if manifest.get("windows"):
        windows = manifest["windows"]
        count = sum(len(v) for v in windows["starts"].values())
        lines.append(f"windows      {count} window subsets of {windows['length']} steps (recipe)")
    lines.append("")
    lines.append(f"{'subset':<30} {'episodes':>9} {'attempts':>9} {'accept':>8}  splits")
    for sub in manifest["subsets"]:
        done = sum(s["episodes"] for s in sub["shards"])
        count = f"{done}" if done == sub["count"] else f"{done}/{sub['count']}"
        rate = "-" if sub["acceptance_rate"] is None else f"{sub['acceptance_rate']:.2%}"
        attempts = "-" if sub["attempts"] is None else str(sub["attempts"])
        lines.append(
            f"{sub['label']:<30} {count:>9} {attempts:>9} {rate:>8}  {_split_sizes(sub['split'])}"
        )
    stats = array_statistics(root, manifest, verify=verify)
    from mbplan.evaluation.episode_drawing import observation_names

    obs_names = observation_names(manifest["env"]["id"], manifest["obs_dim"])
    act_names = [f"action[{k}]" for k in range(manifest["action_dim"])]
    lines.append("")
    lines.append("value ranges (all written episodes)")
    lines.append("  observations")
    lines += _ranges(obs_names, stats["observations"])
    if act_names:
        lines.append("  actions")
        lines += _ranges(act_names, stats["actions"])
    if manifest["flag_names"]:
        lines.append("  flags")
        lines += _ranges(list(manifest["flag_names"]), stats["flags"], flags=True)
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run ``mbplan data``; return the exit status (0 ok, 2 unusable dataset)."""
    args = _parser().parse_args(argv)
    with np.printoptions(precision=4, suppress=True):
        print(describe(Path(args.dir), verify=not args.no_verify))
    return 0
