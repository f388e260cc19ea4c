"""Benchmark of the VAA: one vectorised call against loops of the kind the official code runs.

Setting (the warmup paper's supervised default network): a 2-layer GRU of hidden size 256 on
copy_first_input sequences (T = 100, one input channel); 32 initial states; 10 000 convergence
steps under one held input.

* **ours**: ``mbplan.analysis.vaa(core, core_prefix_states(core, inputs, ...), 10_000, ...)``:
  the prefix states from one batched pass, the convergence through the state map, all pairwise
  distances from one ``torch.cdist``;
* **loop baseline** (written here, as the benchmark's baseline only): one forward pass per
  sequence for its prefix state (as the official ``sample_hidden_states``), the convergence as
  one sequence pass over the held input repeated 10 000 times (as the official ``Model.vaa``:
  torch's fused GRU kernel, which materialises every step's outputs), and the VAA by a Python loop
  over pairs ``(i, j)``. The official code loops over ``i`` only (a vectorised row per state):
  that variant is timed too, for the distance part.

Both give the same VAA (checked). The distance part alone is also timed at n = 32, 200 (the RL
measure) and 1000 states, and ten estimates (the official per-epoch measure) as ten calls
against one batched call. Timings are the best of ``--repeats``, ours and the baseline
interleaved.

Usage::

    python benchmarks/vaa.py [--steps 10000] [--repeats 2] [--threads 1] [--device cpu]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from mbplan.analysis import core_prefix_states, pairwise_distances, prefix_lengths, vaa
from mbplan.analysis.vaa import EPSILON
from mbplan.models.cells import GRUCell, RecurrentStack

HIDDEN, LAYERS, STATES, LENGTH = 256, 2, 32, 100


def best_time(function: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Best wall time of ``repeats`` calls (synchronising CUDA)."""
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        started = time.perf_counter()
        function()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - started)
    return min(times)


def loop_prefix_states(core, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """One forward pass per sequence over its prefix (the official sampling)."""
    states = []
    for i, length in enumerate(lengths.tolist()):
        start = inputs.new_zeros(1, core.state_size)
        states.append(core.forward_sequence(inputs[i : i + 1, :length], start).state)
    return torch.cat(states)


def loop_converge(core, states: torch.Tensor, u: torch.Tensor, steps: int) -> torch.Tensor:
    """One sequence pass over the held input repeated ``steps`` times (the official measure)."""
    held = u.view(1, 1, -1).expand(states.shape[0], steps, -1)
    return core.forward_sequence(held, states).state


def pair_loop_vaa(states: torch.Tensor, epsilon: float) -> float:
    """The VAA by a Python loop over pairs (i, j)."""
    n = states.shape[0]
    total = 0.0
    for i in range(n):
        count = 0
        for j in range(n):
            count += int(torch.linalg.vector_norm(states[j] - states[i]) < epsilon)
        total += 1.0 / count / n
    return total


def row_loop_vaa(states: torch.Tensor, epsilon: float) -> float:
    """The VAA by a Python loop over rows i, as the official ``_vaa``."""
    n = states.shape[0]
    total = torch.zeros((), device=states.device)
    for i in range(n):
        distances = torch.linalg.vector_norm(states - states[i], dim=1)
        total = total + 1.0 / (distances < epsilon).sum() / n
    return float(total)


def cdist_vaa(states: torch.Tensor, epsilon: float) -> float:
    """Our distance part: one cdist (what :func:`mbplan.analysis.vaa_of_states` does)."""
    same = pairwise_distances(states) < epsilon
    return float(same.sum(-1).float().reciprocal().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    core = RecurrentStack([GRUCell(1, HIDDEN), GRUCell(HIDDEN, HIDDEN)]).to(device).eval()
    data = torch.Generator().manual_seed(1)
    inputs = torch.randn(STATES, LENGTH, 1, generator=data).to(device)
    print(
        f"VAA of a {LAYERS}-layer GRU, hidden {HIDDEN}, {STATES} states, {args.steps} steps, "
        f"device {device}, {args.threads} thread(s), best of {args.repeats}"
    )

    def ours() -> float:
        generator = torch.Generator().manual_seed(2)
        with torch.no_grad():
            states = core_prefix_states(core, inputs, generator=generator)
            return float(vaa(core, states, args.steps, generator=generator))

    def baseline(parts: dict[str, float] | None = None) -> float:
        generator = torch.Generator().manual_seed(2)
        with torch.no_grad():
            started = time.perf_counter()
            lengths = prefix_lengths(STATES, LENGTH, generator)
            states = loop_prefix_states(core, inputs, lengths)
            sampled = time.perf_counter()
            u = torch.randn(core.input_size, generator=generator).to(device)
            final = loop_converge(core, states, u, args.steps)
            converged = time.perf_counter()
            value = pair_loop_vaa(final, EPSILON)
            if parts is not None:
                parts.update(
                    sample=sampled - started,
                    converge=converged - sampled,
                    distances=time.perf_counter() - converged,
                )
            return value

    assert ours() == baseline(), "the two implementations disagree"
    t_ours = t_base = float("inf")
    parts: dict[str, float] = {}
    for _ in range(args.repeats):
        t_ours = min(t_ours, best_time(ours, 1, device))
        trial: dict[str, float] = {}
        t_trial = best_time(lambda trial=trial: baseline(trial), 1, device)
        if t_trial < t_base:
            t_base, parts = t_trial, trial

    # our parts, timed separately on the same inputs
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        states = core_prefix_states(core, inputs, generator=generator)
        t_sample = best_time(
            lambda: core_prefix_states(core, inputs, generator=torch.Generator().manual_seed(2)),
            args.repeats,
            device,
        )
        u = torch.randn(1, core.input_size, generator=generator).to(device)
        from mbplan.analysis import converge

        final = converge(core, states, min(args.steps, 2000), u.view(-1))
        t_converge_ours = best_time(lambda: converge(core, states, 2000, u.view(-1)), 1, device) * (
            args.steps / 2000
        )
        t_converge_loop = best_time(
            lambda: loop_converge(core, states, u.view(-1), 2000), 1, device
        ) * (args.steps / 2000)
    print(f"| whole VAA call | {t_ours:.2f} s | {t_base:.2f} s | {t_base / t_ours:.2f}x |")
    print(
        f"| prefix states | {t_sample * 1e3:.1f} ms | {parts['sample'] * 1e3:.1f} ms | "
        f"{parts['sample'] / t_sample:.1f}x |"
    )
    print(
        f"| convergence (2000 steps, scaled to {args.steps}) | {t_converge_ours:.2f} s | "
        f"{t_converge_loop:.2f} s | {t_converge_loop / t_converge_ours:.2f}x |"
    )
    with torch.no_grad():
        t_cdist = best_time(lambda: cdist_vaa(final, EPSILON), 5, device)
    print(
        f"| distances, n={STATES} (pair loop) | {t_cdist * 1e3:.2f} ms | "
        f"{parts['distances'] * 1e3:.1f} ms | {parts['distances'] / t_cdist:.0f}x |"
    )

    print("\ndistance part alone (random 2x256-dim states), ours vs loops:")
    for n in (32, 200, 1000):
        states = torch.randn(n, LAYERS * HIDDEN, generator=data).to(device)
        assert abs(cdist_vaa(states, EPSILON) - row_loop_vaa(states, EPSILON)) < 1e-4
        t_c = best_time(lambda states=states: cdist_vaa(states, EPSILON), 3, device)
        t_row = best_time(lambda states=states: row_loop_vaa(states, EPSILON), 1, device)
        pair = ""
        if n <= 200:
            t_pair = best_time(lambda states=states: pair_loop_vaa(states, EPSILON), 1, device)
            pair = f"{t_pair * 1e3:.0f} ms ({t_pair / t_c:.0f}x)"
        print(
            f"| n={n} | {t_c * 1e3:.2f} ms | row loop {t_row * 1e3:.1f} ms "
            f"({t_row / t_c:.0f}x) | pair loop {pair or 'skipped'} |"
        )

    steps = min(args.steps, 1000)
    sets = torch.randn(10, STATES, core.state_size, generator=data).to(device)
    with torch.no_grad():
        ten_calls = best_time(
            lambda: [vaa(core, s, steps, generator=torch.Generator().manual_seed(3)) for s in sets],
            1,
            device,
        )
        one_call = best_time(
            lambda: vaa(core, sets, steps, generator=torch.Generator().manual_seed(3)), 1, device
        )
    print(
        f"\nten estimates ({steps} steps): ten calls {ten_calls:.2f} s, one batched call "
        f"{one_call:.2f} s ({ten_calls / one_call:.2f}x)"
    )


if __name__ == "__main__":
    main()
