"""Bouncing Balls: elastic balls in a box, for generalisation across ball counts (RigLSTM).

The RigLSTM summary (``shared/seeds/000``) tests on 4, 5 and 6 balls. Here ``num_balls`` (1 to
``MAX_BALLS`` = 8, default 4) balls of radius ``BALL_RADIUS`` = 0.06 and equal mass move in the box
``[0, 1]^2`` without gravity, damping or friction; ball-ball and ball-wall contacts are perfectly
elastic, so the total kinetic energy is conserved. Start: positions uniform in the box, redrawn
until no two balls are closer than ``MIN_START_GAP`` = 0.01; directions uniform;
speeds uniform in ``SPEED_RANGE`` = (0.5, 1.0) box lengths per second. ``dt = 0.01`` s, 5 substeps
(0.05 s per env step); a ball moves at most a sixth of its radius per substep.

Observation: a fixed size ``(2 * MAX_BALLS,)`` = (16,) whatever ``num_balls`` is, so that one
model can be trained on 4 balls and tested on 5 or 6: ``[x_0, y_0, x_1, y_1, ...]`` with positions
divided by the box size (in [0, 1]), in a fixed ball order, and zeros in the slots of absent balls.
A present ball's centre keeps at least its radius from the walls, so (0, 0) is never a real
position.
No action (zero-size action space), reward 0, never terminates, no hidden flags.

Frames (``observation="frames"``, for video prediction): the observation is instead a small
grayscale image ``(frame_size, frame_size)`` float32 in [0, 1] of the box ``[0, 1]^2`` (y up,
drawn rows top first): white discs on black, anti-aliased (drawn at 4x and box-downsampled
through :class:`sims.render.Canvas`). ``ball_radius`` (default ``BALL_RADIUS``) sets the size of
the balls, so that they stay a few pixels wide in small frames; changing it changes the dynamics
(contacts happen at other distances), so datasets record it with the env kwargs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pymunk
from gymnasium import spaces

from sims.base import NO_OPTIONS, PymunkEnv
from sims.render import COLORS, Canvas
from sims.walls import add_box

__all__ = [
    "BALL_RADIUS",
    "BOX_SIZE",
    "MAX_BALLS",
    "MIN_START_GAP",
    "SPEED_RANGE",
    "WALL_THICKNESS",
    "BouncingBallsEnv",
]

OBSERVATIONS = ("positions", "frames")

BOX_SIZE = 1.0  #: side of the square box, world units
BALL_RADIUS = 0.06
MAX_BALLS = 8  #: observation slots; the largest allowed ``num_balls``
SPEED_RANGE = (0.5, 1.0)  #: box lengths per second
MIN_START_GAP = 0.01  #: minimum distance between the surfaces of two balls at the start
WALL_THICKNESS = 0.1
_MAX_PLACEMENT_TRIES = 1000

_BALL_COLORS = (
    (220, 60, 60),
    (50, 110, 210),
    (40, 160, 80),
    (230, 160, 30),
    (140, 70, 190),
    (30, 170, 170),
    (200, 90, 150),
    (110, 110, 110),
)


class BouncingBallsEnv(PymunkEnv):
    """Elastic balls bouncing in a box; observation padded to ``MAX_BALLS`` (module docstring).

    Args:
        num_balls: number of balls, 1 to ``MAX_BALLS``.
        render_mode: ``None`` or ``"rgb_array"``.
        observation: ``"positions"`` (padded coordinates) or ``"frames"`` (grayscale images).
        frame_size: side of the frames in pixels (``observation="frames"``), 8 to 128.
        ball_radius: radius of every ball, in (0, 0.15] box lengths.

    Raises:
        ValueError: if ``num_balls`` is not an integer in [1, MAX_BALLS], or for a bad
            ``observation``, ``frame_size`` or ``ball_radius``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}
    dt: ClassVar[float] = 0.01
    substeps: ClassVar[int] = 5
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-0.05, 1.05, -0.05, 1.05)
    render_width: ClassVar[int] = 320
    observation_names: ClassVar[tuple[str, ...]] = tuple(
        f"ball {i} {axis}" for i in range(MAX_BALLS) for axis in "xy"
    )

    def __init__(
        self,
        num_balls: int = 4,
        render_mode: str | None = None,
        *,
        observation: str = "positions",
        frame_size: int = 24,
        ball_radius: float = BALL_RADIUS,
    ) -> None:
        if isinstance(num_balls, bool) or not isinstance(num_balls, (int, np.integer)):
            raise ValueError(f"num_balls: expected an int in [1, {MAX_BALLS}], got {num_balls!r}")
        if not 1 <= num_balls <= MAX_BALLS:
            raise ValueError(f"num_balls: expected an int in [1, {MAX_BALLS}], got {num_balls}")
        if observation not in OBSERVATIONS:
            raise ValueError(f"observation: expected one of {OBSERVATIONS}, got {observation!r}")
        if isinstance(frame_size, bool) or not isinstance(frame_size, (int, np.integer)):
            raise ValueError(f"frame_size: expected an int in [8, 128], got {frame_size!r}")
        if not 8 <= frame_size <= 128:
            raise ValueError(f"frame_size: expected an int in [8, 128], got {frame_size}")
        if not 0.0 < ball_radius <= 0.15:
            raise ValueError(f"ball_radius: expected a value in (0, 0.15], got {ball_radius!r}")
        super().__init__(render_mode)
        self.num_balls = int(num_balls)
        self.observation = observation
        self.frame_size = int(frame_size)
        self.ball_radius = float(ball_radius)
        if observation == "frames":
            shape: tuple[int, ...] = (self.frame_size, self.frame_size)
        else:
            shape = (2 * MAX_BALLS,)
        self.observation_space = spaces.Box(0.0, 1.0, shape, np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (0,), np.float32)
        self.walls: list[pymunk.Segment] = []

    def _build_space(
        self, rng: np.random.Generator, options: Mapping[str, Any] = NO_OPTIONS
    ) -> pymunk.Space:
        space = self._new_space()
        self.walls = add_box(
            space, (0.0, 0.0), (BOX_SIZE, BOX_SIZE), WALL_THICKNESS, elasticity=1.0
        )
        balls = []
        for position in _place_apart(rng, self.num_balls, self.ball_radius):
            angle = rng.uniform(0.0, 2.0 * math.pi)
            speed = rng.uniform(*SPEED_RANGE) * BOX_SIZE
            body, _ = self._add_disc(space, position, self.ball_radius, elasticity=1.0)
            body.velocity = (speed * math.cos(angle), speed * math.sin(angle))
            balls.append(body)
        self._bodies = tuple(balls)
        self._body_names = tuple(f"ball{i}" for i in range(self.num_balls))
        return space

    def _observation(self) -> np.ndarray:
        if self.observation == "frames":
            return self.frame()
        obs = np.zeros(2 * MAX_BALLS, dtype=np.float32)
        obs[: 2 * self.num_balls] = np.ravel(self._xy)
        obs /= BOX_SIZE
        return obs

    def frame(self) -> np.ndarray:
        """The grayscale frame ``(frame_size, frame_size)`` float32 in [0, 1] (module docstring)."""
        canvas = Canvas(
            (0.0, BOX_SIZE, 0.0, BOX_SIZE), self.frame_size, background=(0, 0, 0), supersample=4
        )
        for xy in self._xy:
            canvas.circle(xy, self.ball_radius, fill=(255, 255, 255))
        return canvas.to_array()[..., 0].astype(np.float32) / np.float32(255.0)

    def _draw(self, canvas: Canvas) -> None:
        canvas.rect((0.0, 0.0), (BOX_SIZE, BOX_SIZE), fill=COLORS["floor"])
        canvas.segments(self.walls, COLORS["wall"])
        for i, xy in enumerate(self._xy):
            color = _BALL_COLORS[i % len(_BALL_COLORS)]
            canvas.circle(xy, self.ball_radius, fill=color, outline=COLORS["marker"])


def _place_apart(
    rng: np.random.Generator, count: int, radius: float = BALL_RADIUS
) -> list[tuple[float, float]]:
    """Draw ``count`` ball centres in the box, redrawing any too close to an earlier one."""
    low, high = radius, BOX_SIZE - radius
    min_distance = 2 * radius + MIN_START_GAP
    placed: list[tuple[float, float]] = []
    for _ in range(count):
        for _ in range(_MAX_PLACEMENT_TRIES):
            x, y = rng.uniform(low, high, 2).tolist()
            if all(math.hypot(x - px, y - py) >= min_distance for px, py in placed):
                placed.append((x, y))
                break
        else:  # pragma: no cover - unreachable for MAX_BALLS balls of this size
            raise RuntimeError(
                f"could not place {count} balls apart in {_MAX_PLACEMENT_TRIES} tries"
            )
    return placed
