"""A tiny gymnasium env for the data tests, and checks of the env itself.

Generation workers are separate processes (spawn), so they import this module by name through the
id ``test_data_toyenv:mbplan-test/Toy-v0`` (gymnasium imports the part before ':' first); it must
stay light (numpy and gymnasium only).
"""

from __future__ import annotations

import multiprocessing
import os

import gymnasium as gym
import numpy as np

TOY_ID = "test_data_toyenv:mbplan-test/Toy-v0"
ZONE_X = 0.5


class ToyEnv(gym.Env):
    """A point in the plane moved by 0.1 * action; entering x > 0.5 latches a hidden flag.

    ``info["zone_step"]`` is the 0-based step during which the point first entered (-1 before),
    like BilliardBall's ``pocket_step``. ``reset(options={"start": "left" | "right"})`` puts the
    point at x in [-1, 0) or [0, 0.4).

    ``die_in_worker_after`` (steps) kills the process abruptly, but only inside a worker process,
    never in the main one: it simulates a crashed worker without changing the dynamics.
    """

    flag_names = ("in_zone", "moved")

    def __init__(self, speed: float = 0.1, die_in_worker_after: int | None = None) -> None:
        self.speed = speed
        self.die_in_worker_after = die_in_worker_after
        self.total_steps = 0
        self.observation_space = gym.spaces.Box(-3.0, 3.0, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.zeros(2)
        self.t = 0
        self.zone_step = -1

    def _info(self) -> dict:
        return {"in_zone": self.zone_step >= 0, "moved": self.t > 0, "zone_step": self.zone_step}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        start = (options or {}).get("start", "left")
        low, high = (-1.0, 0.0) if start == "left" else (0.0, 0.4)
        self.pos = np.array([self.np_random.uniform(low, high), self.np_random.uniform(-1, 1)])
        self.t, self.zone_step = 0, -1
        return self.pos.astype(np.float32), self._info()

    def step(self, action):
        self.total_steps += 1
        if (
            self.die_in_worker_after is not None
            and self.total_steps > self.die_in_worker_after
            and multiprocessing.parent_process() is not None
        ):
            os._exit(3)
        self.pos = np.clip(self.pos + self.speed * np.clip(action, -1, 1), -3, 3)
        if self.zone_step < 0 and self.pos[0] > ZONE_X:
            self.zone_step = self.t
        self.t += 1
        return self.pos.astype(np.float32), 0.0, False, False, self._info()


if "mbplan-test/Toy-v0" not in gym.registry:
    gym.register("mbplan-test/Toy-v0", entry_point=ToyEnv)


def test_toy_env_is_seeded_and_latches_its_zone_flag():
    env = gym.make(TOY_ID).unwrapped
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    np.testing.assert_array_equal(first, again)
    env.reset(seed=0, options={"start": "right"})
    x0 = float(env.pos[0])
    steps_needed = int(np.floor((ZONE_X - x0) / 0.1)) + 1  # strictly beyond 0.5 after this many
    for _ in range(steps_needed):
        *_, info = env.step(np.array([1.0, 0.0], np.float32))
    assert info["in_zone"] and info["zone_step"] == steps_needed - 1
    *_, info = env.step(np.array([-1.0, 0.0], np.float32))
    assert info["in_zone"], "the flag latches"


def toy_spec(seed: int = 0, count: int = 60, steps: int = 20, **env_kwargs):
    """Two filtered subsets of the toy env: enters the zone during steps 0..9, or never."""
    from mbplan.data import DatasetSpec, PolicySpec, SubsetSpec
    from mbplan.data.filters import EventStepIn, FlagEver
    from mbplan.data.recipes import random_split

    split = random_split(count, (("train", 0.6), ("val", 0.2), ("test", 0.2)))
    return DatasetSpec(
        env_id=TOY_ID,
        steps=steps,
        seed=seed,
        env_kwargs=env_kwargs,
        subsets=(
            SubsetSpec(
                "enter_early",
                count,
                PolicySpec("uniform"),
                split,
                (EventStepIn("zone_step", 0, 10),),
                {"start": "right"},
            ),
            SubsetSpec(
                "never", count, PolicySpec("uniform"), split, (FlagEver("in_zone", ever=False),)
            ),
        ),
    )


def directory_bytes(root) -> dict[str, bytes]:
    """Every file below ``root`` (relative path -> contents)."""
    from pathlib import Path

    root = Path(root)
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
