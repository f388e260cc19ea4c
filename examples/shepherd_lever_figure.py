r"""Figure: Shepherd models' predicted sheep against the real one when the agent pulls the lever.

For a few scripted episodes (start on the right, full speed to the lever with the cage held, then
standing still; :func:`mbplan.evaluation.lever_response.release_rollout`), every run's best
checkpoint filters the real history up to ``--lead`` steps before the gate opens and rolls out the
rest open-loop. Top row: the sheep's y (the planner's cost counts the sheep as out below the
dashed line y = -0.1; a hidden sheep reads y = 0); bottom row: its x (world units), once the
real sheep is visible. The grey line marks the step whose observation first shows the gate
open::

    python examples/shepherd_lever_figure.py examples/checkpoints/shepherd_15k/gatel0rd_ss_s0 \
        examples/checkpoints/shepherd_15k/lstm_ss_s0 --out docs/results/shepherd_15k_lever.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import gymnasium as gym
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import sims  # noqa: E402, F401
from mbplan.evaluation.lever_response import SHEPHERD_ENV, release_rollout  # noqa: E402
from mbplan.evaluation.report import load_run_model  # noqa: E402
from planners.costs import SHEPHERD_SHEEP_X_OFFSET, SHEPHERD_SHEEP_Y_LIMIT  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (Shepherd models)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="episode seeds")
    parser.add_argument("--lead", type=int, default=5, help="steps before the gate opens")
    parser.add_argument("--wait", type=int, default=25, help="steps standing still after")
    parser.add_argument("--out", type=Path, required=True, help="PNG file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    env, sim = gym.make(SHEPHERD_ENV), gym.make(SHEPHERD_ENV)
    sim.reset(seed=0)
    models = []
    for run in args.runs:
        model, _ = load_run_model(run, which="best", device="cpu")
        config = json.loads((run / "config.json").read_text())
        models.append((f"{config['core']} (seed {config['seed']})", model.eval()))
    figure, axes = plt.subplots(
        2, len(args.seeds), figsize=(4.0 * len(args.seeds), 5.4), squeeze=False, sharex=True
    )
    for column, seed in enumerate(args.seeds):
        top, bottom = axes[0][column], axes[1][column]
        _, real, _ = release_rollout(None, env, sim, seed, args.lead, args.wait)
        steps = np.arange(1, len(real) + 1)
        visible = np.abs(real[:, 4:6]).max(axis=1) > 0
        top.plot(steps, real[:, 5], color="black", lw=2, label="real")
        bottom.plot(steps[visible], real[visible, 4] + SHEPHERD_SHEEP_X_OFFSET, color="black", lw=2)
        for index, (label, model) in enumerate(models):
            predicted, _, _ = release_rollout(model, env, sim, seed, args.lead, args.wait)
            top.plot(steps, predicted[:, 5], color=f"C{index}", label=label)
            bottom.plot(
                steps[visible], predicted[visible, 4] + SHEPHERD_SHEEP_X_OFFSET, color=f"C{index}"
            )
        for axis in (top, bottom):
            axis.axvline(args.lead, color="grey", lw=0.8)
            axis.grid(alpha=0.3)
        top.axhline(SHEPHERD_SHEEP_Y_LIMIT, color="grey", ls="--", lw=0.8)
        top.set_title(f"episode seed {seed}")
        bottom.set_xlabel("rollout step (gate opens at the grey line)")
    axes[0][0].set_ylabel("sheep y")
    axes[1][0].set_ylabel("sheep x (world)")
    axes[0][0].legend(fontsize=7)
    figure.suptitle("Shepherd: the sheep after the lever, predicted open-loop vs real")
    figure.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=110)
    plt.close(figure)
    print(args.out)


if __name__ == "__main__":
    main()
