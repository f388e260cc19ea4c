"""Robot Remote Control (GateL0RD paper Sec. 6, Fig. 2a; ``shared/reference/gatel0rd.md`` Sec. 2.2).

Two rooms side by side: the agent's room ``[-1, 1] x [-1, 1]`` with a computer at
``COMPUTER_POSITION`` = (0.5, 0.5), and the robot's room ``[1, 3] x [-1, 1]`` with a goal at
``GOAL_POSITION`` = (2.5, -0.5). The action ``a`` in [-1, 1]^2 moves the agent by
``ACTION_SCALE * a`` = 0.1 a per step. Once the agent's centre comes within
``CONTROL_THRESHOLD`` = 0.1 of the computer (checked after the move), ``robot_controlled`` latches
to True and from the next step on the robot moves by the same 0.1 a. Reward 1 and ``terminated``
while the robot's centre is within ``GOAL_THRESHOLD`` = 0.1 of the goal.

Observation (4,): ``[agent x, agent y, robot x - 2, robot y]`` in [-1, 1]^4
(:data:`ROBOT_NORMALIZATION` maps the robot's part; the goal is ``GOAL_OBS`` = (0.5, -0.5)).
``info["robot_controlled"]`` is the hidden latch.

Start: agent uniform in [-1, 1]^2, robot uniform in [1, 3] x [-1, 1], each clipped to its room
shrunk by the body radius, as in the reference.

Physics: agent and robot are discs of radius ``BODY_RADIUS`` = 0.05 driven by velocity, each
stopped by its own room's walls (0.1 thick, frictionless, inelastic) through contact; they never
collide with each other. A body driven along a wall slides along it, as with the reference's
per-axis clipping. Differences from the reference's clipped kinematics: a body pushed into a wall
ends the step up to about 6e-4 past the reference's clip limit (0.95 etc.; measured over 5000
random steps pushing into walls) instead of exactly on it; the reference returns the *unclipped*
start position in the first observation (up to +-1), here the start is clipped before the first
observation. The reference's 8 wall-distance "IR" values are not reported. ``dt = 0.05`` s,
2 substeps (0.1 s per step), as for all :mod:`sims.agent_world` worlds.

Under uniform random actions the robot is controlled by step 50 in 9.2 % of episodes (1000
episodes, ``benchmarks/env_event_rates.py``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pymunk
from gymnasium import spaces

from sims.agent_world import ACTION_SCALE, BODY_RADIUS, WALL_THICKNESS, AgentWorldEnv
from sims.base import NO_OPTIONS
from sims.normalization import PositionNormalization
from sims.render import COLORS, Canvas
from sims.walls import add_box, add_wall

__all__ = [
    "ACTION_SCALE",
    "AGENT_ROOM",
    "BODY_RADIUS",
    "COMPUTER_POSITION",
    "CONTROL_THRESHOLD",
    "GOAL_OBS",
    "GOAL_POSITION",
    "GOAL_THRESHOLD",
    "ROBOT_NORMALIZATION",
    "ROBOT_ROOM",
    "WALL_THICKNESS",
    "RobotRemoteControlEnv",
]

COMPUTER_POSITION = (0.5, 0.5)  #: world position of the computer that gives control
GOAL_POSITION = (2.5, -0.5)  #: world position of the robot's goal
GOAL_OBS = (0.5, -0.5)  #: the goal in observation coordinates of the robot
CONTROL_THRESHOLD = 0.1  #: agent-computer distance below which control latches
GOAL_THRESHOLD = 0.1  #: robot-goal distance below which the task is solved
AGENT_ROOM = ((-1.0, -1.0), (1.0, 1.0))  #: (lower, upper) corners of the agent's room
ROBOT_ROOM = ((1.0, -1.0), (3.0, 1.0))  #: (lower, upper) corners of the robot's room

#: Robot world position <-> its observation ``(x - 2, y)``; the agent's observation is its position.
ROBOT_NORMALIZATION = PositionNormalization(offset=(2.0, 0.0), scale=(1.0, 1.0))

_ROBOT_INDEX = 1  # body order in the state and in self._xy: agent, robot
# collision categories: each body collides only with its own room's walls
_AGENT, _ROBOT, _WALLS = 1, 2, 4
_OUTER_WALLS = pymunk.ShapeFilter(categories=_WALLS, mask=_AGENT | _ROBOT)


class RobotRemoteControlEnv(AgentWorldEnv):
    """The agent reaches the computer to gain control of a robot in the next room.

    See the module docstring for the task, the observation layout and the physics.

    Args:
        render_mode: ``None`` or ``"rgb_array"``.
        control_threshold: agent-computer distance that gives control (reference: 0.1).
        goal_threshold: robot-goal distance that solves the task (reference: 0.1). The reference's
            planning wrapper scales its single threshold, used for both, by 1.5; pass 0.15 to both
            to reproduce it.

    Raises:
        ValueError: if a threshold is not a positive finite distance.
    """

    flag_names: ClassVar[tuple[str, ...]] = ("robot_controlled",)
    observation_names: ClassVar[tuple[str, ...]] = ("agent x", "agent y", "robot x", "robot y")
    latent_names: ClassVar[tuple[str, ...]] = ("robot_controlled",)

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        control_threshold: float = CONTROL_THRESHOLD,
        goal_threshold: float = GOAL_THRESHOLD,
    ) -> None:
        self.control_threshold = self._threshold("control_threshold", control_threshold)
        self.goal_threshold = self._threshold("goal_threshold", goal_threshold)
        super().__init__(render_mode)
        self.observation_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.robot_controlled = False
        self.walls: list[pymunk.Segment] = []

    def _build_space(
        self, rng: np.random.Generator, options: Mapping[str, Any] = NO_OPTIONS
    ) -> pymunk.Space:
        space = self._new_space()
        t = WALL_THICKNESS
        self.walls = add_box(space, AGENT_ROOM[0], ROBOT_ROOM[1], t, shape_filter=_OUTER_WALLS)
        # the dividing wall has one face per room, each solid only for that room's body
        (x, y0), (_, y1) = ROBOT_ROOM
        for outward, body in (((1.0, 0.0), _AGENT), ((-1.0, 0.0), _ROBOT)):
            only = pymunk.ShapeFilter(categories=_WALLS, mask=body)
            self.walls.append(add_wall(space, (x, y0), (x, y1), outward, t, shape_filter=only))
        agent_xy = rng.uniform(-1.0, 1.0, 2)
        robot_xy = rng.uniform(-1.0, 1.0, 2) + (2.0, 0.0)
        agent = self._add_body(space, agent_xy, AGENT_ROOM, _AGENT, _WALLS)
        robot = self._add_body(space, robot_xy, ROBOT_ROOM, _ROBOT, _WALLS)
        self._bodies, self._body_names = (agent, robot), ("agent", "robot")
        self.robot_controlled = False
        return space

    def _apply_action(self, action: list[float]) -> None:
        dx, dy = self._move_agent(action)
        if self.robot_controlled:  # otherwise the robot stays at rest
            self._drive(_ROBOT_INDEX, dx, dy)

    def _transition(self, action: list[float]) -> tuple[float, bool]:
        (ax, ay), (rx, ry) = self._xy
        cx, cy = COMPUTER_POSITION
        if math.hypot(ax - cx, ay - cy) < self.control_threshold:
            self.robot_controlled = True
        solved = math.hypot(rx - GOAL_POSITION[0], ry - GOAL_POSITION[1]) < self.goal_threshold
        return (1.0 if solved else 0.0), solved

    def _observation(self) -> np.ndarray:
        (ax, ay), (rx, ry) = self._xy
        return np.array((ax, ay, rx - 2.0, ry), dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        return {"robot_controlled": self.robot_controlled}

    def _get_latent(self) -> list[float]:
        return [float(self.robot_controlled)]

    def _set_latent(self, values: list[float]) -> None:
        self.robot_controlled = bool(values[0])

    def _draw(self, canvas: Canvas) -> None:
        for lower, upper in (AGENT_ROOM, ROBOT_ROOM):
            canvas.rect(lower, upper, fill=COLORS["floor"])
        canvas.segments(self.walls, COLORS["wall"])
        radius = self.control_threshold
        canvas.circle(COMPUTER_POSITION, radius, fill=None, outline=COLORS["computer"])
        cx, cy = COMPUTER_POSITION
        canvas.rect((cx - 0.05, cy - 0.04), (cx + 0.05, cy + 0.04), fill=COLORS["computer"])
        gx, gy = GOAL_POSITION
        canvas.rect(
            (gx - self.goal_threshold, gy - self.goal_threshold),
            (gx + self.goal_threshold, gy + self.goal_threshold),
            fill=COLORS["goal"],
        )
        robot_color = COLORS["robot_active"] if self.robot_controlled else COLORS["robot"]
        agent_xy, robot_xy = self._xy
        canvas.circle(robot_xy, BODY_RADIUS, fill=robot_color, outline=COLORS["marker"])
        canvas.circle(agent_xy, BODY_RADIUS, fill=COLORS["agent"], outline=COLORS["marker"])
