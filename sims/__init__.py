"""mbplan's pymunk worlds as gymnasium envs, registered as ``mbplan/<Name>-v0`` on import.

>>> import gymnasium as gym, sims
>>> env = gym.make("mbplan/RobotRemoteControl-v0")

``sims`` depends on numpy, pymunk, gymnasium and pillow only (no torch).
"""

from __future__ import annotations

import gymnasium as gym

from sims.base import PymunkEnv
from sims.billiard import BilliardBallEnv
from sims.bouncing_balls import BouncingBallsEnv
from sims.remote_control import RobotRemoteControlEnv
from sims.shepherd import ShepherdEnv

__all__ = [
    "ENV_IDS",
    "BilliardBallEnv",
    "BouncingBallsEnv",
    "PymunkEnv",
    "RobotRemoteControlEnv",
    "ShepherdEnv",
]

#: id -> (entry point, max_episode_steps). BB: the paper's 150-step episodes; RRC and Shepherd:
#: room for MPC beyond the datasets' 50 and 101 steps.
_REGISTRY: dict[str, tuple[str, int]] = {
    "mbplan/BilliardBall-v0": ("sims.billiard:BilliardBallEnv", 150),
    "mbplan/RobotRemoteControl-v0": ("sims.remote_control:RobotRemoteControlEnv", 100),
    "mbplan/Shepherd-v0": ("sims.shepherd:ShepherdEnv", 200),
    "mbplan/BouncingBalls-v0": ("sims.bouncing_balls:BouncingBallsEnv", 100),
}

#: The ids registered by importing ``sims``.
ENV_IDS: tuple[str, ...] = tuple(_REGISTRY)

for _env_id, (_entry_point, _max_steps) in _REGISTRY.items():
    if _env_id not in gym.registry:
        gym.register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_steps)
