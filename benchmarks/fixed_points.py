"""Benchmark of the fixed-point finder: 4,096 initial states in one call vs one state at a time.

Two state maps, as in issue 16:

* the hidden-150 noise-driven ReLU RNN of the HMM-emulation paper (input 100, read-out 3;
  :func:`mbplan.analysis.core_map` with zero input, i.e. ``h -> ReLU(W_hh h)``);
* a GateL0RD world model at the RRC preset (obs 4, action 2, hidden 8) in closed loop under a
  constant zero action (:func:`mbplan.analysis.world_model_map`, state ``[h, o]`` of size 12).

Both sides run the same work per state: ``--steps`` Adam steps (early stopping off) and
``--refine`` Levenberg-Marquardt steps, then deduplication and Jacobian eigenvalues. The batched
side is one :func:`mbplan.analysis.find_fixed_points` call on all 4,096 states; the loop side calls
it once per state on ``--loop-states`` states (the loop over all 4,096 would take hours on CPU),
and its time is extrapolated linearly to 4,096 (each call is independent, so the extrapolation is
exact up to timing noise). The ratio is loop time (extrapolated) / batched time.

Usage::

    python benchmarks/fixed_points.py [--device cpu|cuda] [--threads 1] [--steps 200]
"""

from __future__ import annotations

import argparse
import time

import torch

from mbplan.analysis import core_map, find_fixed_points, world_model_map
from mbplan.models import make_world_model, preset
from mbplan.models.cells import NoiseReLUCell

N_STATES = 4096


def relu_rnn_map(device: torch.device):
    """The hidden-150 ReLU RNN without input, and 4096 non-negative initial states."""
    generator = torch.Generator().manual_seed(0)
    cell = NoiseReLUCell(100, 150, 3, generator=generator).to(device)
    starts = torch.rand(N_STATES, 150, generator=generator).to(device)
    return core_map(cell, torch.zeros(100, device=device)), starts


def gatel0rd_map(device: torch.device):
    """A GateL0RD RRC world model in closed loop under a zero action, and 4096 initial states."""
    torch.manual_seed(0)
    model = make_world_model("gatel0rd", obs_dim=4, action_dim=2, **preset("rrc")).to(device).eval()
    generator = torch.Generator().manual_seed(1)
    starts = (torch.rand(N_STATES, model.state_size + 4, generator=generator) * 2 - 1).to(device)
    return world_model_map(model, torch.zeros(2, device=device)), starts


def timed(function) -> float:
    """Seconds for one call (with a device sync)."""
    start = time.perf_counter()
    function()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=200, help="Adam steps per minimisation")
    parser.add_argument("--refine", type=int, default=4, help="Levenberg-Marquardt steps")
    parser.add_argument("--loop-states", type=int, default=16, help="states timed in the loop")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    settings = {"steps": args.steps, "tol": 0.0, "q_threshold": float("inf")}
    print(
        f"device {device}, {args.threads} thread(s), {N_STATES} initial states, "
        f"{args.steps} Adam + {args.refine} LM steps, torch {torch.__version__}"
    )
    print(f"{'map':<34} {'batched s':>10} {'loop s/state':>13} {'loop s (4096)':>14} {'ratio':>8}")
    for name, build in (
        ("ReLU RNN hidden 150 (x = 0)", relu_rnn_map),
        ("GateL0RD RRC world model (a = 0)", gatel0rd_map),
    ):
        state_map, starts = build(device)

        def batched(state_map=state_map, starts=starts) -> None:
            find_fixed_points(state_map, starts, **settings, refine_steps=args.refine)

        def loop(state_map=state_map, starts=starts) -> None:
            for index in range(args.loop_states):
                find_fixed_points(
                    state_map, starts[index : index + 1], **settings, refine_steps=args.refine
                )

        batched_seconds = timed(batched)
        per_state = timed(loop) / args.loop_states
        loop_total = per_state * N_STATES
        print(
            f"{name:<34} {batched_seconds:>10.2f} {per_state:>13.3f} {loop_total:>14.1f} "
            f"{loop_total / batched_seconds:>7.0f}x"
        )


if __name__ == "__main__":
    main()
