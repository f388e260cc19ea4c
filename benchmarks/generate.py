"""Dataset generation throughput against a bare pymunk loop, and the full Shepherd recipe time.

For each paper env, measured side by side in one run (single process each):

Rates are env steps per second of CPU time (``time.process_time``, per process), the best of
``--repeats`` interleaved measurements: other load on a shared machine changes them much less than
wall-clock time, but still by tens of percent. The Shepherd run reports both clocks.

* **pymunk**: the env's own space after ``reset``, stepped ``substeps`` times by ``dt`` per env
  step (both read from the env class), nothing else: the physics floor.
* **env.step**: the unwrapped env stepped with pre-drawn actions of the recipe's first policy,
  ``reset`` every episode: adds the world's Python logic (action check, driving, latches,
  observation) and its resets.
* **generator, no filter**: ``mbplan.data.generate`` of unfiltered episodes of the recipe's first
  policy, one worker (in-process): adds policies, episode arrays, reassembly and shards to the
  same reset-every-episode loop as ``env.step``, so the two compare the generator's own cost.
* **generator, recipe**: the env's recipe at ``--scale``, one worker: filtered subsets, where
  rejected episodes stop early, so resets are more frequent per step. This is the throughput that
  generation reaches. Generator rates are env steps (rejected episodes included) per second of
  worker time.

Then the full ``shepherd-paper`` recipe with ``--workers`` processes: measured on the fraction
``--shepherd-fraction`` of its episodes and extrapolated linearly (``--shepherd-fraction 1`` runs it
in full). Everything is CPU-bound Python; on a shared machine the numbers are noisy.

Usage::

    python benchmarks/generate.py                      # about 4 minutes on 2 idle cores
    python benchmarks/generate.py --repeats 1 --scale 0.002 --shepherd-fraction 0.005  # quick
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from mbplan.data import generate, generic_spec, make_recipe
from mbplan.data.episodes import make_env
from mbplan.data.policies import make_policy

RECIPE_OF_ENV = {
    "mbplan/BilliardBall-v0": "billiard-paper",
    "mbplan/RobotRemoteControl-v0": "rrc-paper",
    "mbplan/Shepherd-v0": "shepherd-paper",
}


@dataclass
class Row:
    """Throughputs (env steps per second) measured for one env."""

    env_id: str
    pymunk: float
    env_step: float
    unfiltered: float
    generator: float
    acceptance: str


def bare_pymunk_rate(env: gym.Env, seconds: float) -> float:
    """Env steps per CPU second of ``substeps`` x ``space.step(dt)`` on the env's space."""
    env.reset(seed=0)
    space, dt, substeps = env.space, env.dt, env.substeps
    steps, began, began_cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - began < seconds:
        for _ in range(1000):
            for _ in range(substeps):
                space.step(dt)
        steps += 1000
    return steps / (time.process_time() - began_cpu)


def env_step_rate(env: gym.Env, recipe: str, seconds: float) -> float:
    """Env steps per CPU second of ``env.step``, resetting every episode.

    The actions are pre-drawn episodes of the recipe's first policy (the same one the unfiltered
    generator runs), so both loops see the same kind of trajectories and contacts.
    """
    spec = make_recipe(recipe, 1.0)
    subset = spec.subsets[0]
    policy = make_policy(subset.policy.name, env.action_space, spec.steps, subset.policy.params)
    info = dict.fromkeys(env.flag_names, False)
    episodes = []
    for k in range(32):
        policy.reset(np.random.default_rng(k))
        episodes.append([policy.act(t, None, info).copy() for t in range(spec.steps)])
    options = dict(subset.reset_options) or None
    steps, seed, began, began_cpu = 0, 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - began < seconds:
        env.reset(seed=seed, options=options)
        for action in episodes[seed % len(episodes)]:
            env.step(action)
        steps += spec.steps
        seed += 1
    return steps / (time.process_time() - began_cpu)


def unfiltered_rate(recipe: str, episodes: int) -> float:
    """Per-worker env steps per second of generating unfiltered episodes of ``recipe``'s policy."""
    spec = make_recipe(recipe, 1.0)
    policy = spec.subsets[0].policy
    generic = generic_spec(spec.env_id, policy.name, episodes, spec.steps, 0, None, policy.params)
    with tempfile.TemporaryDirectory() as out:
        return generate(generic, out, workers=1).steps_per_worker_cpu_second


def generator_rate(recipe: str, scale: float) -> tuple[float, str]:
    """Per-worker env steps per second of generating ``recipe`` at ``scale`` in one process."""
    with tempfile.TemporaryDirectory() as out:
        report = generate(make_recipe(recipe, scale), out, workers=1)
    rates = ", ".join(f"{s.label} {s.acceptance_rate:.1%}" for s in report.subsets)
    return report.steps_per_worker_cpu_second, rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.005, help="recipe scale per env")
    parser.add_argument("--seconds", type=float, default=2.0, help="time per bare loop")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many measurements")
    parser.add_argument("--workers", type=int, default=2, help="workers for the Shepherd run")
    parser.add_argument("--shepherd-fraction", type=float, default=0.02)
    args = parser.parse_args()

    print(f"cpu cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.2f}")
    rows = []
    for env_id, recipe in RECIPE_OF_ENV.items():
        env = make_env(env_id)
        steps = make_recipe(recipe, 1.0).steps
        best = Row(env_id, 0.0, 0.0, 0.0, 0.0, "")
        for _ in range(args.repeats):  # interleaved; the best of each resists other load
            best.pymunk = max(best.pymunk, bare_pymunk_rate(env, args.seconds))
            best.env_step = max(best.env_step, env_step_rate(env, recipe, args.seconds))
            episodes = max(10, round(best.env_step * args.seconds / steps))
            best.unfiltered = max(best.unfiltered, unfiltered_rate(recipe, episodes))
            gen_rate, best.acceptance = generator_rate(recipe, args.scale)
            best.generator = max(best.generator, gen_rate)
        rows.append(best)
        print(f"  measured {env_id} (dt {env.dt}, {env.substeps} substeps)", flush=True)

    print()
    print("env steps per CPU second, one process; gen = generator (recipe), plain = no filter")
    print(
        f"{'env':<30} {'pymunk':>9} {'env.step':>9} {'plain':>9} {'gen':>9} "
        f"{'gen/pymunk':>10} {'plain/env.step':>14}"
    )
    for r in rows:
        print(
            f"{r.env_id:<30} {r.pymunk:>9,.0f} {r.env_step:>9,.0f} {r.unfiltered:>9,.0f} "
            f"{r.generator:>9,.0f} {r.generator / r.pymunk:>10.1%} "
            f"{r.unfiltered / r.env_step:>14.1%}"
        )
    print()
    print("where the time goes, microseconds per env step (unfiltered generation):")
    for r in rows:
        physics = 1e6 / r.pymunk
        world = 1e6 / r.env_step - physics
        ours = 1e6 / r.unfiltered - 1e6 / r.env_step
        print(
            f"  {r.env_id:<30} pymunk {physics:6.1f}  env Python and reset {world:6.1f}  "
            f"generator {ours:6.1f}  (total {1e6 / r.unfiltered:6.1f})"
        )
    print()
    print("acceptance rates (measured at --scale):")
    for r in rows:
        print(f"  {r.env_id:<30} {r.acceptance}")

    fraction = args.shepherd_fraction
    with tempfile.TemporaryDirectory() as out:
        began, began_cpu = time.perf_counter(), time.process_time()
        report = generate(make_recipe("shepherd-paper", fraction), out, workers=args.workers)
        wall, parent_cpu = time.perf_counter() - began, time.process_time() - began_cpu
    episodes = sum(s.count for s in report.subsets)
    steps = sum(s.steps_simulated for s in report.subsets)
    cpu = sum(s.worker_cpu_seconds for s in report.subsets) + parent_cpu
    how = "measured" if fraction == 1.0 else f"extrapolated linearly from {fraction:g} of it"
    print()
    print(f"shepherd-paper, {args.workers} workers, {how} ({episodes} episodes, {steps:,} steps):")
    print(f"  wall clock on this machine: {wall / fraction / 60:.1f} min ({wall:.1f} s measured)")
    print(
        f"  CPU time, workers + main process: {cpu / fraction / 60:.1f} min, i.e. "
        f"{cpu / fraction / 60 / min(args.workers, os.cpu_count() or 1):.1f} min of wall clock "
        f"on {min(args.workers, os.cpu_count() or 1)} unshared cores"
    )
    print(
        f"  per worker: {report.steps_per_worker_second:,.0f} steps/s of wall clock, "
        f"{report.steps_per_worker_cpu_second:,.0f} steps per CPU second"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
