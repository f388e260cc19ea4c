"""Shepherd (GateL0RD paper Sec. 6, Fig. 2b; ``shared/reference/gatel0rd.md`` Sec. 2.3).

World (x right, y up): the field ``[-1, 3] x [-1, 0]`` where the agent walks and carries a cage, and
above it the stable ``[1, 3] x [0, 1]`` from which a sheep walks down. Between them, over
``x in [1, 3]``, a gate that is closed until the agent pulls the lever at ``LEVER_POSITION``
(-0.85, 0): within ``LEVER_THRESHOLD`` = 0.2 of it (checked after the move) ``gate_open`` latches.

* Action ``a`` in [-1, 1]^3: the agent moves by ``ACTION_SCALE * a[:2]`` = 0.1 a[:2]; a carried cage
  moves along. ``a[2]`` is grasp/drop, evaluated after the move: a carried cage is dropped when
  ``a[2] <= 0``; a dropped cage is picked up when ``a[2] > 0`` and the agent is within
  ``CAGE_THRESHOLD`` = 0.1 of it. The cage starts carried.
* The sheep starts at ``x ~ U(SHEEP_X_RANGE)`` = U(1.5, 2.5), ``y = 0.95 +- 0.005``, and walks down
  ``SHEEP_SPEED`` = 0.025 per step; its x never changes. (The paper's text speaks of "a fixed
  randomly generated velocity"; the public code behind its data uses 0.025 in every episode, which
  is followed here.) While the gate is closed it is hidden,
  observed as (0, 0), as soon as ``y < stable_height`` (the stable's front wall occludes it), and,
  as in the reference, it is then parked at the gate, ``y = SHEEP_PARK_Y = 0``, where it waits
  (colliding with nothing) until the gate opens. The stable height is drawn from U(0.35, 0.65), or
  with ``reset(options={"generalize": True})`` from ``0.5 +- U(0.15, 0.3)``. Visibility is decided
  first in a step, with the gate state before this step's lever check, so the sheep reappears at
  its true x and ``y = -0.025``, whenever the lever is pulled, in the observation after the one in
  which ``gate_open`` turns on; and, as in the reference, a sheep caught in the step the gate opens
  stays hidden.
* The sheep is caught when the cage is not carried, the gate is open and the cage-sheep distance is
  below ``CAGE_THRESHOLD``; a caught sheep walks no further and is pulled down to the cage's y.
  Reward 1 and ``terminated`` while caught.
* Start: ``reset(options={"start": "left"})`` (default) draws the agent x from
  ``(U(-1, 1) - 0.5) * 4 + 1`` (so about half the episodes start at the left wall), ``"right"`` from
  ``U(-1, 1) + 2``; y from ``U(-1, 1) - 1``; the cage at the agent plus U(-0.05, 0.05)^2; both are
  clipped into the field, as the reference's first step does.

Observation (7,): ``[agent x, agent y, cage x, cage y]`` normalised as
``((x - 1) / 2, (y + 0.5) / 2)`` (:data:`FIELD_NORMALIZATION`); ``[sheep x - 2, sheep y]``, or
(0, 0) while hidden (:data:`SHEEP_NORMALIZATION`); ``[stable_height]``. ``info``: ``gate_open``,
``cage_carried``, ``sheep_caught``.

Physics: agent, cage and sheep are discs of radius ``BODY_RADIUS`` = 0.05 driven by velocity; they
pass through one another. Agent and cage are stopped by the field's walls, the sheep by the closed
gate and by the floor at y = -1. Differences from the reference's clipped kinematics: a body pushed
into a wall ends the step within about 6e-4 of the clip limit instead of exactly on it; a sheep
walking down stops at y = -0.95 (reference: -1.05); the
reference's first observation shows the unclipped start position (up to x = -5), here the start is
clipped first. The reference's 8 wall-distance values are not reported. ``dt = 0.05`` s, 2 substeps
(0.1 s per step), as for all :mod:`sims.agent_world` worlds.

Under uniform random actions (1000 episodes of 100 steps, ``benchmarks/env_event_rates.py``): start
left, the gate is closed at t=30 and open at t=70 in 5.4 % of episodes and still closed at t=100 in
79 %; start right, it never opens (the lever is 3 units away); the sheep is never caught. The
dataset generator's Shepherd policy (persistent grasp, biased walks) makes these events common.
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
    "BODY_RADIUS",
    "CAGE_START_JITTER",
    "CAGE_THRESHOLD",
    "FIELD",
    "FIELD_NORMALIZATION",
    "GENERALIZE_OFFSET_RANGE",
    "LEVER_POSITION",
    "LEVER_THRESHOLD",
    "OBS_AGENT",
    "OBS_CAGE",
    "OBS_SHEEP",
    "OBS_STABLE_HEIGHT",
    "SHEEP_NORMALIZATION",
    "SHEEP_PARK_Y",
    "SHEEP_SPEED",
    "SHEEP_START_Y",
    "SHEEP_START_Y_JITTER",
    "SHEEP_X_RANGE",
    "STABLE",
    "STABLE_HEIGHT_RANGE",
    "START_OPTIONS",
    "WALL_THICKNESS",
    "ShepherdEnv",
]

FIELD = ((-1.0, -1.0), (3.0, 0.0))  #: (lower, upper) corners of the agent's and cage's area
STABLE = ((1.0, 0.0), (3.0, 1.0))  #: (lower, upper) corners of the sheep's stable
LEVER_POSITION = (-0.85, 0.0)  #: world position of the lever
LEVER_THRESHOLD = 0.2  #: agent-lever distance below which the gate opens
CAGE_THRESHOLD = 0.1  #: agent-cage distance to pick up; cage-sheep distance to catch
SHEEP_SPEED = 0.025  #: sheep displacement per step (downwards)
SHEEP_X_RANGE = (1.5, 2.5)  #: the sheep's x is drawn uniformly from this range
SHEEP_START_Y = 0.95  #: the sheep starts at this y, plus U(-1, 1) * SHEEP_START_Y_JITTER
SHEEP_START_Y_JITTER = 0.005
SHEEP_PARK_Y = 0.0  #: y at which a hidden sheep waits while the gate is closed (the reference's)
CAGE_START_JITTER = 0.05  #: the cage starts at the agent plus U(-1, 1) * this, per axis
STABLE_HEIGHT_RANGE = (0.35, 0.65)  #: training range of the stable height
GENERALIZE_OFFSET_RANGE = (0.15, 0.3)  #: generalisation: height 0.5 +- U(this range)
START_OPTIONS = ("left", "right")

#: Agent and cage world positions <-> observation: ``((x - 1) / 2, (y + 0.5) / 2)``.
FIELD_NORMALIZATION = PositionNormalization(offset=(1.0, -0.5), scale=(2.0, 2.0))
#: Sheep world position <-> observation ``(x - 2, y)`` (the observation is (0, 0) while hidden).
SHEEP_NORMALIZATION = PositionNormalization(offset=(2.0, 0.0), scale=(1.0, 1.0))

OBS_AGENT = slice(0, 2)  #: agent (x, y) in the observation
OBS_CAGE = slice(2, 4)  #: cage (x, y) in the observation
OBS_SHEEP = slice(4, 6)  #: sheep (x, y) in the observation
OBS_STABLE_HEIGHT = 6  #: index of the stable height in the observation

_CAGE_INDEX, _SHEEP_INDEX = 1, 2  # body order in the state and in self._xy: agent, cage, sheep
# collision categories: agent and cage collide with the field's walls, the sheep with gate and floor
_AGENT, _CAGE, _SHEEP, _FIELD_WALLS, _SHEEP_WALLS = 1, 2, 4, 8, 16
_FENCE = pymunk.ShapeFilter(categories=_FIELD_WALLS, mask=_AGENT | _CAGE)  # field's top and sides
_FLOOR = pymunk.ShapeFilter(categories=_FIELD_WALLS, mask=_AGENT | _CAGE | _SHEEP)
_GATE_CLOSED = pymunk.ShapeFilter(categories=_SHEEP_WALLS, mask=_SHEEP)
_GATE_OPEN = pymunk.ShapeFilter(categories=_SHEEP_WALLS, mask=0)
_SHEEP_FREE = pymunk.ShapeFilter(categories=_SHEEP, mask=_FIELD_WALLS | _SHEEP_WALLS)
_SHEEP_PARKED = pymunk.ShapeFilter(categories=_SHEEP, mask=0)


class ShepherdEnv(AgentWorldEnv):
    """Place the cage under the hidden sheep, then pull the lever so it walks into the cage.

    See the module docstring for the task, the observation layout and the physics.

    Args:
        render_mode: ``None`` or ``"rgb_array"``.
        lever_threshold: agent-lever distance that opens the gate (reference: 0.2).
        cage_threshold: agent-cage distance for picking the cage up and cage-sheep distance for
            a catch (reference: 0.1). The reference's planning wrapper uses 0.24 and 0.12.

    Raises:
        ValueError: if a threshold is not a positive finite distance.
    """

    flag_names: ClassVar[tuple[str, ...]] = ("gate_open", "cage_carried", "sheep_caught")
    observation_names: ClassVar[tuple[str, ...]] = (
        "agent x",
        "agent y",
        "cage x",
        "cage y",
        "sheep x",
        "sheep y",
        "stable height",
    )
    option_names: ClassVar[tuple[str, ...]] = ("start", "generalize")
    latent_names: ClassVar[tuple[str, ...]] = (
        "gate_open",
        "cage_carried",
        "sheep_caught",
        "sheep_hidden",
        "stable_height",
    )

    def __init__(
        self,
        render_mode: str | None = None,
        *,
        lever_threshold: float = LEVER_THRESHOLD,
        cage_threshold: float = CAGE_THRESHOLD,
    ) -> None:
        self.lever_threshold = self._threshold("lever_threshold", lever_threshold)
        self.cage_threshold = self._threshold("cage_threshold", cage_threshold)
        super().__init__(render_mode)
        low = np.array([-1.0] * 6 + [0.0], dtype=np.float32)
        self.observation_space = spaces.Box(low, np.ones(7, np.float32), dtype=np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.gate_open = False
        self.cage_carried = True
        self.sheep_caught = False
        self.sheep_hidden = False
        self.stable_height = 0.5
        self.walls: list[pymunk.Segment] = []
        self._sheep_shape: pymunk.Shape | None = None

    def _build_space(
        self, rng: np.random.Generator, options: Mapping[str, Any] = NO_OPTIONS
    ) -> pymunk.Space:
        start = options.get("start", "left")
        if start not in START_OPTIONS:
            raise ValueError(f"options['start']: expected one of {START_OPTIONS}, got {start!r}")
        generalize = options.get("generalize", False)
        if not isinstance(generalize, (bool, np.bool_)):
            raise ValueError(f"options['generalize']: expected a bool, got {generalize!r}")

        u = rng.uniform(-1.0, 1.0, 2)
        agent_x = (u[0] - 0.5) * 4.0 + 1.0 if start == "left" else u[0] + 2.0
        agent = (agent_x, u[1] - 1.0)
        jitter = rng.uniform(-CAGE_START_JITTER, CAGE_START_JITTER, 2)
        cage = (agent[0] + jitter[0], agent[1] + jitter[1])
        if generalize:
            sign = -1.0 if rng.random() < 0.5 else 1.0
            self.stable_height = 0.5 + sign * rng.uniform(*GENERALIZE_OFFSET_RANGE)
        else:
            self.stable_height = rng.uniform(*STABLE_HEIGHT_RANGE)
        sheep_x = float(rng.uniform(*SHEEP_X_RANGE))
        sheep = (sheep_x, SHEEP_START_Y + float(rng.uniform(-1.0, 1.0)) * SHEEP_START_Y_JITTER)

        space = self._new_space()
        self.walls = add_box(space, *FIELD, WALL_THICKNESS, shape_filter=_FENCE)
        self.walls[0].filter = _FLOOR  # the sheep walks down to the field's floor, too
        (x0, y0), (x1, _) = STABLE
        self._gate = add_wall(
            space, (x0, y0), (x1, y0), (0.0, -1.0), WALL_THICKNESS, shape_filter=_GATE_CLOSED
        )
        self._bodies = (
            self._add_body(space, agent, FIELD, _AGENT, _FIELD_WALLS),
            self._add_body(space, cage, FIELD, _CAGE, _FIELD_WALLS),
            self._add_body(space, sheep, None, _SHEEP, _FIELD_WALLS | _SHEEP_WALLS),
        )
        self._body_names = ("agent", "cage", "sheep")
        (self._sheep_shape,) = self._bodies[_SHEEP_INDEX].shapes
        self.gate_open, self.cage_carried, self.sheep_caught = False, True, False
        self._set_sheep_hidden(False)  # it starts at y ~ 0.95, above every stable height
        return space

    def _apply_action(self, action: list[float]) -> None:
        dx, dy = self._move_agent(action)
        if self.cage_carried:  # a dropped cage stays at rest
            self._drive(_CAGE_INDEX, dx, dy)
        if not self.sheep_caught:
            if not self._sheep_parked():  # a parked sheep waits at the gate
                self._drive(_SHEEP_INDEX, 0.0, -SHEEP_SPEED)
        else:  # a caught sheep is pulled down to the cage's height
            drop = self._xy[_CAGE_INDEX][1] - self._xy[_SHEEP_INDEX][1]
            if drop < 0.0:
                self._drive(_SHEEP_INDEX, 0.0, drop)

    def _sheep_parked(self) -> bool:
        """Whether the sheep waits, hidden, at the closed gate (it is then not driven)."""
        return self.sheep_hidden and not self.gate_open and not self.sheep_caught

    def _transition(self, action: list[float]) -> tuple[float, bool]:
        # the reference's order: visibility (with the gate state before this step's lever
        # check), then lever, cage and catch; so a sheep caught in the step the gate opens
        # stays hidden, as in the reference
        gate_was_open = self.gate_open
        if not self.sheep_caught:
            sx, sy = self._xy[_SHEEP_INDEX]
            self._set_sheep_hidden(not gate_was_open and sy < self.stable_height)
            if self.sheep_hidden and sy != SHEEP_PARK_Y:  # occluded: parked at the gate
                self._place(self._bodies[_SHEEP_INDEX], (sx, SHEEP_PARK_Y), (0.0, 0.0))
                self._xy[_SHEEP_INDEX] = (sx, SHEEP_PARK_Y)
        (ax, ay), (cx, cy), (sx, sy) = self._xy
        if (
            not gate_was_open
            and math.hypot(ax - LEVER_POSITION[0], ay - LEVER_POSITION[1]) < self.lever_threshold
        ):
            self._set_gate(True)
        if self.cage_carried:
            if action[2] <= 0.0:
                self.cage_carried = False
        elif action[2] > 0.0 and math.hypot(ax - cx, ay - cy) < self.cage_threshold:
            self.cage_carried = True
        if (
            not self.sheep_caught
            and not self.cage_carried
            and self.gate_open
            and math.hypot(cx - sx, cy - sy) < self.cage_threshold
        ):
            self.sheep_caught = True
        return (1.0 if self.sheep_caught else 0.0), self.sheep_caught

    def _set_sheep_hidden(self, hidden: bool) -> None:
        """Hide or show the sheep.

        A hidden sheep collides with nothing: it is parked at the gate, overlapping it, where the
        reference's clipped kinematics put it.
        """
        self.sheep_hidden = hidden
        self._sheep_shape.filter = _SHEEP_PARKED if hidden else _SHEEP_FREE

    def _set_gate(self, is_open: bool) -> None:
        self.gate_open = is_open
        self._gate.filter = _GATE_OPEN if is_open else _GATE_CLOSED

    def _observation(self) -> np.ndarray:
        (ax, ay), (cx, cy), (sx, sy) = self._xy
        (fx, fy), (fsx, fsy) = FIELD_NORMALIZATION.offset, FIELD_NORMALIZATION.scale
        if self.sheep_hidden:
            sheep_x = sheep_y = 0.0
        else:
            sheep_x = sx - SHEEP_NORMALIZATION.offset[0]
            sheep_y = sy - SHEEP_NORMALIZATION.offset[1]
        return np.array(
            (
                (ax - fx) / fsx,
                (ay - fy) / fsy,
                (cx - fx) / fsx,
                (cy - fy) / fsy,
                sheep_x,
                sheep_y,
                self.stable_height,
            ),
            dtype=np.float32,
        )

    def _info(self) -> dict[str, Any]:
        return {
            "gate_open": self.gate_open,
            "cage_carried": self.cage_carried,
            "sheep_caught": self.sheep_caught,
        }

    def _get_latent(self) -> list[float]:
        return [
            float(self.gate_open),
            float(self.cage_carried),
            float(self.sheep_caught),
            float(self.sheep_hidden),
            self.stable_height,
        ]

    def _set_latent(self, values: list[float]) -> None:
        self._set_gate(bool(values[0]))
        self.cage_carried = bool(values[1])
        self.sheep_caught = bool(values[2])
        self._set_sheep_hidden(bool(values[3]))
        self.stable_height = values[4]

    def _draw(self, canvas: Canvas) -> None:
        canvas.rect((-1.1, -1.1), (3.1, 1.1), fill=COLORS["grass"])
        canvas.rect(*FIELD, fill=COLORS["floor"])
        canvas.rect(*STABLE, fill=COLORS["stable"])
        (x0, y0), (x1, _) = STABLE
        facade = ((x0, y0), (x1, self.stable_height))
        if not self.gate_open:  # the stable's front wall hides the sheep below its top
            self._draw_sheep(canvas)
        canvas.rect(*facade, fill=COLORS["wall"])
        canvas.segments(self.walls, COLORS["wall"])
        gate = ((x0, y0), (x1, y0 + WALL_THICKNESS))
        canvas.rect(*gate, fill=COLORS["floor"] if self.gate_open else COLORS["gate"])
        if self.gate_open:
            self._draw_sheep(canvas)
        lever_color = COLORS["lever_on"] if self.gate_open else COLORS["lever"]
        canvas.circle(LEVER_POSITION, self.lever_threshold, fill=None, outline=lever_color)
        canvas.circle(LEVER_POSITION, 0.05, fill=lever_color)
        h = self.cage_threshold
        cx, cy = self._xy[_CAGE_INDEX]
        canvas.rect(
            (cx - h, cy - h), (cx + h, cy + h), fill=None, outline=COLORS["cage"], line_width=0.02
        )
        canvas.circle(self._xy[0], BODY_RADIUS, fill=COLORS["agent"], outline=COLORS["marker"])

    def _draw_sheep(self, canvas: Canvas) -> None:
        canvas.circle(
            self._xy[_SHEEP_INDEX],
            BODY_RADIUS,
            fill=COLORS["sheep"],
            outline=COLORS["sheep_outline"],
        )
