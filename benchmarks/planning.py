"""Planning speed: mbplan's iCEM against mbrl-lib's ``ICEMOptimizer``, side by side in one run.

Time per MPC step (plan, read the executed action on the host, shift the warm start) on the same
objectives and budgets:

* ``analytic``: a quadratic ``sum_t ||a_t - target_t||^2``; measures the optimiser's own overhead;
* ``gatel0rd``: the RRC task cost of a GateL0RD world model's rollout (hidden 16, RRC dimensions,
  untrained weights: speed does not depend on them), through ``planners.make_objective``.

Settings: iCEM "blitz" (population 40, horizon 30, 3 iterations, 10 elites, beta 3, gamma 1.25,
alpha 0.1, 30 % elites reused) and population 1000 (100 elites, otherwise the same). mbrl-lib runs
with ``elite_ratio = elites / population``, ``keep_elite_frac = 0.3`` and
``return_mean_elites=False`` (execute the best, as the paper), the warm start shifted as its
``TrajectoryOptimizer`` does. The "seq/step" columns give the sequences each evaluates per step
(the budgets differ by mbrl-lib's rounding up and re-evaluated elites). The "obj" columns give the
time spent inside the objective; the rest is the optimiser's overhead. A last row plans 16
independent problems in one mbplan call (mbrl-lib has no batch axis).

A second table puts mbplan's own paths side by side, ms per MPC step: ``eager`` (the model's NaN
checks on, as ``mbplan plan`` ran before ``--nan-check`` became opt-in), ``eager, no checks``,
``fixed`` (``ICEM(fixed_shape=True)``: preallocated buffers, no host sync in the step, checks
off) and ``fixed + compiled`` (the same through ``mbplan.models.compiled.CompiledRollout``, the
``torch.compile`` rollout, compiled once per core before the tables: its first-call time and its
largest cost difference to the eager rollout are printed first), at population 40 and 1000,
horizon 30, 3 iterations, 1 and 16 problems per call, with a GateL0RD and a GRU world model
(hidden 16). The peer table's last columns time mbplan's best path (fixed + compiled) against
mbrl-lib. ``--quick`` runs fewer steps and rounds.

mbrl-lib is optional (``pip install --no-deps mbrl==0.2.0 "omegaconf<2.1" termcolor``): its
column is skipped when it is absent. ``hydra`` is stubbed in ``sys.modules`` (hydra-core 1.0.3 does
not import on Python 3.11; ``ICEMOptimizer`` never calls it), and so is ``omegaconf`` when its
``yaml`` dependency is missing (``mbrl.planning`` uses omegaconf only in type hints).

Usage (from the repository root)::

    python benchmarks/planning.py [--device cpu|cuda] [--steps 10] [--rounds 5] [--threads 1]
                                  [--profile] [--quick] [--only peer|paths]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from planners import ICEM, RRCCost, make_objective

ACTION_DIM = 2
OBS_DIM = 4
BATCHED_PROBLEMS = 16


@dataclass(frozen=True)
class Setting:
    """One planner budget."""

    name: str
    population: int
    elites: int
    horizon: int = 30
    iterations: int = 3


SETTINGS = (Setting("blitz", 40, 10), Setting("pop1000", 1000, 100))


def import_mbrl_icem() -> type | None:
    """mbrl-lib's ICEMOptimizer with the import-time stubs it needs, or None if not installed."""
    try:
        import mbrl  # noqa: F401
    except ImportError:
        return None
    if "hydra" not in sys.modules:
        hydra, utils = types.ModuleType("hydra"), types.ModuleType("hydra.utils")
        hydra.utils = utils
        sys.modules.update({"hydra": hydra, "hydra.utils": utils})
    try:
        import omegaconf  # noqa: F401
    except ImportError:
        for name in [name for name in sys.modules if name.startswith("omegaconf")]:
            del sys.modules[name]
        stub = types.ModuleType("omegaconf")
        for name in ("DictConfig", "ListConfig", "OmegaConf"):
            setattr(stub, name, type(name, (), {}))
        sys.modules["omegaconf"] = stub
    from mbrl.planning import ICEMOptimizer

    return ICEMOptimizer


class TimedCost:
    """Wrap a batched cost ``(B, P, H, A) -> (B, P)``; count sequences and time spent inside."""

    def __init__(
        self,
        cost: Callable[[torch.Tensor], torch.Tensor],
        device: torch.device,
        *,
        sync: bool = True,
    ) -> None:
        self.cost, self.device, self.sync = cost, device, sync
        self.seconds, self.sequences = 0.0, 0

    def _sync(self) -> None:
        """Wait for queued GPU work, so that the objective's time is measured (unless not)."""
        if self.sync and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __call__(self, actions: torch.Tensor) -> torch.Tensor:
        """Evaluate, timing the call."""
        self._sync()
        start = time.perf_counter()
        out = self.cost(actions)
        self._sync()
        self.seconds += time.perf_counter() - start
        self.sequences += actions.shape[0] * actions.shape[1]
        return out

    def reset(self) -> None:
        """Zero the counters."""
        self.seconds, self.sequences = 0.0, 0


def analytic_cost(horizon: int, device: torch.device) -> Callable[[torch.Tensor], torch.Tensor]:
    ramp = torch.linspace(-0.8, 0.8, horizon, device=device)
    target = torch.stack([ramp, -ramp], dim=-1)  # (H, A)

    def cost(actions: torch.Tensor) -> torch.Tensor:
        return ((actions - target) ** 2).sum(dim=(-1, -2))

    return cost


#: compiled rollouts by core, built once per run (the compile is paid once, as in MPC)
_COMPILED: dict[str, object] = {}


def world_model_cost(
    batch: int,
    device: torch.device,
    core: str = "gatel0rd",
    check_nan: bool = False,
    compiled: bool = False,
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        from mbplan.models import make_world_model, preset
    except ImportError:
        return None
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)  # weight init of the untrained model (a script may seed globally)
    options = {**preset("rrc"), "hidden_size": 16}
    model = make_world_model(core, obs_dim=OBS_DIM, action_dim=ACTION_DIM, **options)
    model = model.to(device).eval()
    obs_context = (torch.rand(batch, model.k, OBS_DIM, generator=generator) * 2 - 1).to(device)
    act_context = torch.zeros(batch, model.k, ACTION_DIM, device=device)
    with torch.no_grad():
        state = model.initial_state(obs_context, act_context)
    if compiled:
        from mbplan.models.compiled import CompiledRollout

        key = f"{core}@{device}"
        if key not in _COMPILED:
            _COMPILED[key] = CompiledRollout(model)
        wrapper = _COMPILED[key]
        wrapper.model.load_state_dict(model.state_dict())  # same weights as the eager rows
        model = wrapper  # type: ignore[assignment]
    return make_objective(
        model, state, obs_context[:, -1], RRCCost(), rollout_kwargs={"check_nan": check_nan}
    )


def mbplan_stepper(
    setting: Setting, cost: TimedCost, batch: int, fixed_shape: bool = False
) -> Callable[[], None]:
    """One MPC step of mbplan's iCEM per call: plan, read the action on the host, shift."""
    device = cost.device
    planner = ICEM(
        torch.full((ACTION_DIM,), -1.0, device=device),
        torch.full((ACTION_DIM,), 1.0, device=device),
        setting.horizon,
        population=setting.population,
        elites=setting.elites,
        iterations=setting.iterations,
        generator=torch.Generator(device=device).manual_seed(0),
        fixed_shape=fixed_shape,
    )
    planner.reset(batch)

    def step() -> None:
        plan = planner.plan(cost)
        plan[:, 0].cpu()  # the executed action goes to the env: one host sync, as in MPC
        planner.shift()

    return step


def mbrl_stepper(icem_cls: type, setting: Setting, cost: TimedCost) -> Callable[[], None]:
    """One MPC step of mbrl-lib's ICEMOptimizer per call, shifted as its TrajectoryOptimizer."""
    device = cost.device
    bounds = np.ones((setting.horizon, ACTION_DIM))
    optimizer = icem_cls(
        num_iterations=setting.iterations,
        elite_ratio=setting.elites / setting.population,
        population_size=setting.population,
        population_decay_factor=1.25,
        colored_noise_exponent=3.0,
        lower_bound=(-bounds).tolist(),
        upper_bound=bounds.tolist(),
        keep_elite_frac=0.3,
        alpha=0.1,
        device=device,
        return_mean_elites=False,
    )

    def objective(population: torch.Tensor) -> torch.Tensor:  # (P, H, A) -> (P,) to maximise
        return -cost(population.unsqueeze(0))[0]

    midpoint = torch.zeros(1, ACTION_DIM, device=device)
    solution = [midpoint.repeat(setting.horizon, 1)]

    def step() -> None:
        best = optimizer.optimize(objective, x0=solution[0])
        best[0].cpu()
        solution[0] = torch.cat([best[1:], midpoint])  # roll, midpoint tail

    return step


def measure(
    steppers: dict[str, tuple[Callable[[], None], TimedCost]], steps: int, warmup: int, rounds: int
) -> dict[str, dict[str, float]]:
    """Medians over interleaved rounds: ms per step, objective ms per step, sequences per step."""
    for step, _ in steppers.values():
        for _ in range(warmup):
            step()
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in steppers}
    for _ in range(rounds):
        for name, (step, cost) in steppers.items():
            cost.reset()
            start = time.perf_counter()
            for _ in range(steps):
                step()
            rows[name].append((time.perf_counter() - start, cost.seconds, cost.sequences))
    out = {}
    for name, values in rows.items():
        elapsed, inside, sequences = (
            float(np.median(column)) for column in zip(*values, strict=True)
        )
        out[name] = {
            "ms": 1e3 * elapsed / steps,
            "obj_ms": 1e3 * inside / steps,
            "seq": sequences / steps,
        }
    return out


def profile_mbplan(setting: Setting, cost: TimedCost, steps: int) -> None:
    """Print torch.profiler's table of mbplan's iCEM MPC steps."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU]
    if cost.device.type == "cuda":
        activities.append(ProfilerActivity.CUDA)
    step = mbplan_stepper(setting, cost, 1)
    step()
    with profile(activities=activities) as prof:
        for _ in range(steps):
            step()
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.{digits}f}"


#: the paths of the second table: (column, fixed_shape, model NaN checks, compiled rollout)
PATHS = (
    ("eager", False, True, False),
    ("eager, no checks", False, False, False),
    ("fixed", True, False, False),
    ("fixed + compiled", True, False, True),
)


def compile_report(device: torch.device) -> None:
    """Compile the rollouts once (timed) and print their largest difference to the eager ones."""
    for core in ("gatel0rd", "gru"):
        for batch in (1, BATCHED_PROBLEMS):
            eager = world_model_cost(batch, device, core)
            fast = world_model_cost(batch, device, core, compiled=True)
            if eager is None or fast is None:
                return
            generator = torch.Generator().manual_seed(1)
            actions = 2 * torch.rand(batch, 40, 30, ACTION_DIM, generator=generator) - 1
            actions = actions.to(device)
            diff = (eager(actions) - fast(actions)).abs().max().item()
            seconds = _COMPILED[f"{core}@{device}"].compile_seconds  # type: ignore[attr-defined]
            print(
                f"compiled {core} rollout, {batch} problem(s): first call {seconds:.1f} s, "
                f"max |cost difference| to eager {diff:.1e}"
            )


def compare_paths(device: torch.device, steps: int, warmup: int, rounds: int) -> None:
    """Print ms per MPC step of mbplan's eager and fixed-shape paths, side by side."""
    print(
        "\n| model | population | problems | "
        + " | ".join(f"{name} ms/step" for name, *_ in PATHS)
        + " | eager / fixed | eager / compiled |\n|"
        + "---|" * (len(PATHS) + 5)
    )
    for core in ("gatel0rd", "gru"):
        for setting in SETTINGS:
            for batch in (1, BATCHED_PROBLEMS):
                steppers = {}
                for name, fixed_shape, check_nan, compiled in PATHS:
                    raw = world_model_cost(batch, device, core, check_nan, compiled)
                    if raw is None:
                        print(f"| {core} | mbplan.models not importable |")
                        return
                    cost = TimedCost(raw, device, sync=False)
                    steppers[name] = (mbplan_stepper(setting, cost, batch, fixed_shape), cost)
                timings = measure(steppers, steps, warmup, rounds)
                ratio = timings["eager"]["ms"] / timings["fixed"]["ms"]
                compiled_ratio = timings["eager"]["ms"] / timings["fixed + compiled"]["ms"]
                cells = " | ".join(fmt(timings[name]["ms"]) for name, *_ in PATHS)
                print(
                    f"| {core} (hidden 16) | {setting.population} | {batch} | {cells} | "
                    f"{fmt(ratio)}x | {fmt(compiled_ratio)}x |",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu", help="torch device (cpu)")
    parser.add_argument("--steps", type=int, default=10, help="MPC steps per round (10)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; median (5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed MPC steps first (3)")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (torch default)")
    parser.add_argument("--profile", action="store_true", help="torch.profiler of mbplan cells")
    parser.add_argument(
        "--quick", action="store_true", help="3 steps, 3 rounds, 1 warm-up step (a first look)"
    )
    parser.add_argument(
        "--only", choices=("peer", "paths"), help="only the mbrl-lib table or the paths table"
    )
    args = parser.parse_args()
    if args.quick:
        args.steps, args.rounds, args.warmup = 3, 3, 1
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    icem_cls = import_mbrl_icem()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {device} ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads,"
        f" median of {args.rounds} interleaved rounds of {args.steps} MPC steps"
    )
    if icem_cls is None:
        print("mbrl-lib not installed: its column is skipped")

    if args.only != "peer":
        compile_report(device)
        compare_paths(device, args.steps, args.warmup, args.rounds)
    if args.only == "paths":
        return
    header = (
        "| objective | setting | mbplan ms/step | obj ms | seq/step | mbrl-lib ms/step | "
        "obj ms | seq/step | speed-up | mbplan fixed + compiled ms/step | speed-up (best path) |"
    )
    print("\n" + header + "\n|" + "---|" * 11)
    for objective in ("analytic", "gatel0rd"):
        for setting in SETTINGS:
            for batch in (1, BATCHED_PROBLEMS) if setting.name == "blitz" else (1,):
                if objective == "analytic":
                    raw = analytic_cost(setting.horizon, device)
                else:
                    raw = world_model_cost(batch, device)
                    if raw is None:
                        print(f"| {objective} | mbplan.models not importable | | | | | | | |")
                        break
                ours_cost = TimedCost(raw, device)
                steppers = {"mbplan": (mbplan_stepper(setting, ours_cost, batch), ours_cost)}
                if objective == "gatel0rd":
                    fast = world_model_cost(batch, device, compiled=True)
                    assert fast is not None
                    best_cost = TimedCost(fast, device)
                    best = mbplan_stepper(setting, best_cost, batch, fixed_shape=True)
                    steppers["best"] = (best, best_cost)
                if icem_cls is not None and batch == 1:
                    theirs_cost = TimedCost(raw, device)
                    steppers["mbrl"] = (mbrl_stepper(icem_cls, setting, theirs_cost), theirs_cost)
                timings = measure(steppers, args.steps, args.warmup, args.rounds)
                ours, theirs = timings["mbplan"], timings.get("mbrl")
                label = setting.name if batch == 1 else f"{setting.name}, {batch} problems"
                speedup = None if theirs is None else theirs["ms"] / ours["ms"]
                best = timings.get("best")
                best_speedup = None if theirs is None or best is None else theirs["ms"] / best["ms"]
                print(
                    f"| {objective} | {label} | {fmt(ours['ms'])} | {fmt(ours['obj_ms'])} | "
                    f"{fmt(ours['seq'] / batch, 0)} | {fmt(theirs and theirs['ms'])} | "
                    f"{fmt(theirs and theirs['obj_ms'])} | {fmt(theirs and theirs['seq'], 0)} | "
                    f"{fmt(speedup, 1)}{'x' if speedup else ''} | {fmt(best and best['ms'])} | "
                    f"{fmt(best_speedup, 1)}{'x' if best_speedup else ''} |"
                )
                if args.profile and batch == 1:
                    profile_mbplan(setting, TimedCost(raw, device), args.steps)
    if device.type == "cuda":
        print("\nTarget: population 1000, horizon 30, 3 iterations, GateL0RD hidden 16: <= 10 ms")


if __name__ == "__main__":
    main()
