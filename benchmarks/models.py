"""Benchmark of the recurrent world models: training-step time and rollout throughput, side by side.

For every core of ``mbplan.models`` at the Billiard Ball setting (preset ``billiard``: batch 128,
50 steps, obs_dim 2, no actions) and at hidden size 64:

* training step (forward, backward, Adam) under teacher forcing, in ms and as a ratio to the same
  world model with torch's fused ``nn.GRU`` core (``gru``);
* ``rollout`` throughput (batch 1000, horizon 30, eval mode, ``torch.no_grad()``) in model steps
  per second (batch x horizon / time).

``hidden_size`` is per layer for every core except ``riglstm``, where it is per cell (6 cells by
default: H=8 gives 48 units, H=64 gives 384).

Timings are interleaved round-robin over the cores, so a busy machine slows all of them alike, and
the best of ``--repeats`` runs is reported (the least disturbed one; medians are printed too).
``--profile CORE`` prints where the time of one training step goes; ``--ops`` counts the torch
operators per model step of ``rollout`` (top-level and with nested ones) for every core, at the
planning benchmark's model (RRC dimensions, hidden 16) and at the billiard preset.

Usage::

    python benchmarks/models.py [--device cpu|cuda] [--threads N] [--repeats N] [--compile]
    python benchmarks/models.py --profile gatel0rd --hidden 64
    python benchmarks/models.py --ops
    python benchmarks/models.py --cores riglstm,riglstm+step --repeats 5   # compiled time step

A ``+step`` suffix on a core name compiles each time step of its cells (see :func:`build`); the
first call of such a model compiles (not timed: ``--warmup`` calls come first).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from mbplan.models import CORES, make_world_model, preset
from mbplan.models.cells.base import ProjectedCell

BATCH, TIME, OBS_DIM, ACTION_DIM = 128, 50, 2, 0
ROLLOUT_BATCH, HORIZON = 1000, 30
BASELINE = "gru"


def build(core: str, hidden: int | None, device: torch.device) -> torch.nn.Module:
    """World model for ``core`` at the billiard preset, optionally with another hidden size.

    ``core`` may carry the suffix ``+step`` (e.g. ``riglstm+step``): the same model with the
    recurrence of every :class:`~mbplan.models.cells.base.ProjectedCell` (``_recur``, one time
    step: everything that depends on the previous state) compiled by ``torch.compile``, so
    that a loop over time calls one fused kernel sequence per step, forward and backward.
    """
    name, _, suffix = core.partition("+")
    if suffix not in ("", "step"):
        raise ValueError(f"core: unknown suffix {suffix!r} in {core!r} (expected '+step')")
    settings = preset("billiard")
    if hidden is not None:
        settings["hidden_size"] = hidden
    model = make_world_model(name, OBS_DIM, ACTION_DIM, **settings).to(device)
    if suffix == "step":
        cells = [m for m in model.modules() if isinstance(m, ProjectedCell)]
        if not cells:
            raise ValueError(f"core: {name} has no ProjectedCell whose step could be compiled")
        for cell in cells:
            cell._recur = torch.compile(cell._recur, dynamic=False)
    return model


def train_step(core: str, hidden: int | None, device: torch.device, compile_model: bool):
    """A closure running one training step (teacher forcing) of a fresh model."""
    model = build(core, hidden, device).train()
    forward = torch.compile(model) if compile_model else model
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    data = torch.Generator(device=device).manual_seed(1)
    obs = torch.randn(BATCH, TIME + 1, OBS_DIM, generator=data, device=device)
    actions = torch.zeros(BATCH, TIME, ACTION_DIM, device=device)

    def run() -> None:
        out = forward(obs[:, :-1], actions, 1.0, generator=generator)
        loss = torch.nn.functional.mse_loss(out.predictions, obs[:, 1:])
        loss = loss + model.regularization(out.gates)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return run


def rollout(core: str, hidden: int | None, device: torch.device, compile_model: bool):
    """A closure running one planning rollout under ``torch.no_grad()``."""
    model = build(core, hidden, device).eval()
    roll = torch.compile(model.rollout) if compile_model else model.rollout
    data = torch.Generator(device=device).manual_seed(2)
    state = torch.zeros(ROLLOUT_BATCH, model.state_size, device=device)
    obs = torch.randn(ROLLOUT_BATCH, OBS_DIM, generator=data, device=device)
    actions = torch.zeros(ROLLOUT_BATCH, HORIZON, ACTION_DIM, device=device)

    @torch.no_grad()
    def run() -> None:
        roll(state, obs, actions, check_nan=False)

    return run


def time_side_by_side(
    runs: dict[str, Callable[[], None]], repeats: int, warmup: int, device: torch.device
) -> dict[str, tuple[float, float]]:
    """Seconds per call ``(best, median)`` of each closure, measured round-robin."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    samples: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(warmup + repeats):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            if repeat >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {name: (min(s), statistics.median(s)) for name, s in samples.items()}


def profile(core: str, hidden: int | None, device: torch.device) -> None:
    """Print the operators that take the time of a few training steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    run = train_step(core, hidden, device, compile_model=False)
    for _ in range(3):
        run()
    activities = [ProfilerActivity.CPU]
    if device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with torch_profile(activities=activities) as prof:
        for _ in range(5):
            run()
    sort = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    print(prof.key_averages().table(sort_by=sort, row_limit=20))


def count_rollout_ops(
    core: str, task: str, obs_dim: int, action_dim: int, hidden: int | None
) -> tuple[float, float]:
    """ATen operators per model step of one ``rollout`` (batch 40): ``(top-level, all)``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    settings = preset(task)
    if hidden is not None:
        settings["hidden_size"] = hidden
    model = make_world_model(core, obs_dim, action_dim, **settings).eval()
    data = torch.Generator().manual_seed(3)
    state = torch.zeros(40, model.state_size)
    obs = torch.randn(40, obs_dim, generator=data)
    actions = torch.randn(40, HORIZON, action_dim, generator=data)
    with torch.no_grad():
        model.rollout(state, obs, actions, check_nan=False)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            model.rollout(state, obs, actions, check_nan=False)
    ops = [event for event in prof.events() if event.name.startswith("aten::")]
    top = [
        event
        for event in ops
        if event.cpu_parent is None or not event.cpu_parent.name.startswith("aten::")
    ]
    return len(top) / HORIZON, len(ops) / HORIZON


def print_op_counts(cores: list[str]) -> None:
    """Table of ATen operators per rollout step for every core."""
    settings = {
        "rrc, H=16 (planning)": ("rrc", 4, 2, 16),
        "billiard preset": ("billiard", OBS_DIM, ACTION_DIM, None),
    }
    print("ATen ops per model step of rollout (batch 40, horizon 30): top-level [with nested]")
    print("| core | " + " | ".join(settings) + " |")
    print("|---|" + "---|" * len(settings))
    for core in cores:
        cells = []
        for task, obs_dim, action_dim, hidden in settings.values():
            top, every = count_rollout_ops(core, task, obs_dim, action_dim, hidden)
            cells.append(f"{top:.1f} [{every:.1f}]")
        print(f"| {core} | " + " | ".join(cells) + " |")


def main() -> None:
    """Parse the options, run the measurements and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", default=default_device, help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--repeats", type=int, default=10, help="timed calls per measurement")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls first")
    parser.add_argument("--cores", default=",".join(CORES), help="comma-separated core names")
    parser.add_argument("--compile", action="store_true", help="torch.compile model and rollout")
    parser.add_argument("--profile", metavar="CORE", help="profile CORE's training step instead")
    parser.add_argument("--hidden", type=int, default=None, help="hidden size for --profile")
    parser.add_argument("--ops", action="store_true", help="count ATen ops per rollout step")
    args = parser.parse_args()

    device = torch.device(args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.profile:
        profile(args.profile, args.hidden, device)
        return
    cores = [core.strip() for core in args.cores.split(",")]
    if args.ops:
        print_op_counts(cores)
        return
    if BASELINE not in cores:
        cores.insert(0, BASELINE)

    print(
        f"device={device} threads={torch.get_num_threads()} torch={torch.__version__} "
        f"compile={args.compile} repeats={args.repeats} (best of; median in brackets)"
    )
    print(
        f"training step: batch {BATCH}, {TIME} steps, obs_dim {OBS_DIM}, teacher forcing, "
        f"forward+backward+Adam; rollout: batch {ROLLOUT_BATCH}, horizon {HORIZON}, no_grad"
    )
    sizes = {"H=8 (preset)": None, "H=64": 64}
    train, roll = {}, {}
    for label, hidden in sizes.items():
        train[label] = time_side_by_side(
            {c: train_step(c, hidden, device, args.compile) for c in cores},
            args.repeats,
            args.warmup,
            device,
        )
        roll[label] = time_side_by_side(
            {c: rollout(c, hidden, device, args.compile) for c in cores},
            args.repeats,
            args.warmup,
            device,
        )

    header = "| core |"
    rule = "|---|"
    for label in sizes:
        header += f" train ms {label} | x {BASELINE} |"
        rule += "---|---|"
    for label in sizes:
        header += f" rollout steps/s {label} |"
        rule += "---|"
    print(header)
    print(rule)
    for core in cores:
        row = f"| {core} |"
        for label in sizes:
            best, median = train[label][core]
            ratio = best / train[label][BASELINE][0]
            row += f" {best * 1e3:.1f} [{median * 1e3:.1f}] | {ratio:.2f} |"
        for label in sizes:
            best, median = roll[label][core]
            steps = ROLLOUT_BATCH * HORIZON
            row += f" {steps / best / 1e6:.3f} M [{steps / median / 1e6:.3f} M] |"
        print(row)


if __name__ == "__main__":
    main()
