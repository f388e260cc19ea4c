"""Measured rates of the hidden events that the paper's dataset subsets filter on.

Prints, for seeded episodes:

* Billiard Ball (150 steps): the fraction of episodes whose ball drops in steps [1, 50),
  [50, 100), [100, 150] or never (``info["pocket_step"]``), and cushion hits per 50-step window
  (a hit is a sign flip of a velocity component between two steps; only cushions change the
  direction of the velocity).
* Robot Remote Control, uniform random actions, 50 steps: the fraction with control at step 50.
* Shepherd, uniform random actions, 100 steps, start left and start right: the fractions that fall
  in the reference's subsets (gate closed at t=30 and open at t=70; the same and not caught at
  t=100; caught at t=100; gate closed at t=100).

Usage: ``python benchmarks/env_event_rates.py [--episodes N] [--seed S]``.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

import sims  # noqa: F401  (registers the envs)


def billiard(episodes: int, seed: int) -> None:
    env = gym.make("mbplan/BilliardBall-v0").unwrapped
    no_action = np.zeros(0, dtype=np.float32)
    bins = {"[1, 50)": 0, "[50, 100)": 0, "[100, 150]": 0, "never": 0}
    hits = np.zeros((episodes, 3))
    on_table = np.zeros((episodes, 3), dtype=bool)  # ball on the table at the window's start
    env.reset(seed=seed)
    for episode in range(episodes):
        if episode:
            env.reset()
        velocity = env.get_state()[2:4]
        pocketed = False
        for t in range(150):
            if t % 50 == 0:
                on_table[episode, t // 50] = not pocketed
            _, _, _, _, info = env.step(no_action)
            new_velocity = env.get_state()[2:4]
            pocketed = info["pocketed"]
            if not pocketed:
                hits[episode, t // 50] += np.sum(np.sign(new_velocity) != np.sign(velocity))
            velocity = new_velocity
        step = info["pocket_step"]
        if step < 0:
            bins["never"] += 1
        else:
            bins["[1, 50)" if step < 50 else "[50, 100)" if step < 100 else "[100, 150]"] += 1
    print(f"BilliardBall-v0, {episodes} episodes of 150 steps: ball drops in step ...")
    for key, count in bins.items():
        print(f"  {key:>11}: {count / episodes:6.1%}")
    print("  cushion hits per 50-step window starting on the table: mean; share with 1-3 hits")
    for w, name in enumerate(("[0, 50)", "[50, 100)", "[100, 150)")):
        window = hits[on_table[:, w], w]
        share = np.mean((window >= 1) & (window <= 3))
        print(f"    {name:>11}: {window.mean():.2f}; {share:.1%}")


def remote_control(episodes: int, seed: int) -> None:
    env = gym.make("mbplan/RobotRemoteControl-v0").unwrapped
    rng = np.random.default_rng(seed)
    controlled = 0
    env.reset(seed=seed)
    for episode in range(episodes):
        if episode:
            env.reset()
        for _ in range(50):
            _, _, _, _, info = env.step(rng.uniform(-1, 1, 2).astype(np.float32))
        controlled += info["robot_controlled"]
    print(f"RobotRemoteControl-v0, uniform random actions, {episodes} episodes of 50 steps:")
    print(f"  robot controlled at step 50: {controlled / episodes:6.1%}")


def shepherd(episodes: int, seed: int) -> None:
    env = gym.make("mbplan/Shepherd-v0").unwrapped
    rng = np.random.default_rng(seed)
    print(f"Shepherd-v0, uniform random actions, {episodes} episodes of 100 steps:")
    env.reset(seed=seed)
    for start in ("left", "right"):
        counts = {"gate opens (closed t=30, open t=70)": 0, "  ... and not caught t=100": 0}
        counts |= {"caught at t=100": 0, "gate closed at t=100": 0}
        for _ in range(episodes):
            env.reset(options={"start": start})
            flags = {}
            for t in range(1, 101):
                _, _, _, _, info = env.step(rng.uniform(-1, 1, 3).astype(np.float32))
                if t in (30, 70, 100):
                    flags[t] = info
            opens = not flags[30]["gate_open"] and flags[70]["gate_open"]
            counts["gate opens (closed t=30, open t=70)"] += opens
            counts["  ... and not caught t=100"] += opens and not flags[100]["sheep_caught"]
            counts["caught at t=100"] += flags[100]["sheep_caught"]
            counts["gate closed at t=100"] += not flags[100]["gate_open"]
        print(f"  start {start}:")
        for key, count in counts.items():
            print(f"    {key:<38} {count / episodes:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=1000, help="episodes per env and variant")
    parser.add_argument("--seed", type=int, default=0, help="seed of envs and policies")
    args = parser.parse_args()
    for measure in (billiard, remote_control, shepherd):
        start = time.perf_counter()
        measure(args.episodes, args.seed)
        print(f"  ({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
