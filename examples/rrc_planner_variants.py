"""MPC success of the RRC 60k-update runs under planner variants (docs/results/rrc.md).

For every run ``GRID/{core}_ss_s{seed}`` (GateL0RD and LSTM, seeds 0-4): 100 episodes (seeds
1000-1099) with the blitz settings, with ``mask_terminal`` (steps after a predicted termination
cost nothing), with a larger planner (population 200, 5 iterations, horizon 40) and with horizon
50; writes ``GRID/plan_variants.json``::

    python examples/rrc_planner_variants.py runs/rrc60k
"""

import json
import sys
import time

import numpy as np

from mbplan.commands.plan import plan_episodes
from mbplan.evaluation.report import load_run_model
from planners.tasks import summarize_success

variants = {
    "blitz": {},
    "mask_terminal": {"mask_terminal": True},
    "pop200_it5_h40": {"planner_options": {"population": 200, "iterations": 5, "horizon": 40}},
    "h50": {"planner_options": {"horizon": 50}},
}
out = {}
for core in ["gatel0rd", "lstm"]:
    for seed in range(5):
        run = f"{sys.argv[1]}/{core}_ss_s{seed}"
        model, _ = load_run_model(run, which="best", device="cpu")
        model.eval()
        for name, kw in variants.items():
            t = time.perf_counter()
            res = plan_episodes(
                "mbplan/RobotRemoteControl-v0", model, episodes=100, seed=1000, **kw
            )
            s = summarize_success(res)
            out.setdefault(name, {}).setdefault(core, []).append(s.rate)
            print(core, seed, name, round(s.rate, 2), f"{time.perf_counter() - t:.0f}s", flush=True)
with open(f"{sys.argv[1]}/plan_variants.json", "w") as handle:
    json.dump(out, handle, indent=1)
for name in variants:
    for core in out[name]:
        r = out[name][core]
        print(name, core, round(np.mean(r), 3), round(np.std(r, ddof=1), 3))
