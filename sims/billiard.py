"""Billiard Ball: one ball shot across a pool table with six pockets (GateL0RD paper, Sec. 6).

The paper's simulator is not public (``shared/reference/gatel0rd.md`` Sec. 2.1, 6), so the table is
modelled on an 8-foot pool table, SI units (metres, seconds):

* playing area ``TABLE_LENGTH x TABLE_WIDTH`` = 2.24 m x 1.12 m, centred on the origin, bounded by
  cushions whose noses lie on the table edge; cushions are frictionless and perfectly elastic
  (restitution 1.0), ``CUSHION_THICKNESS`` = 0.04 m thick;
* ``BALL_RADIUS`` 0.0286 m (a 57.2 mm pool ball), unit mass, no spin;
* six pockets: four corners and the middles of the long sides. The cushions stop
  ``CORNER_MOUTH`` = 0.12 m short of each corner and ``SIDE_MOUTH`` = 0.085 m either side of each
  side pocket; the ball drops when its centre crosses the table edge (more than half of it over
  the edge) and is then placed on the pocket point (corner, or middle of the long edge), where it
  stays;
* "cloth friction" is viscous and low: ``space.damping = TABLE_DAMPING`` = 0.97 (the ball keeps
  97 % of its speed per second, 80 % over an episode), so between cushion hits its speed only
  decreases (in the substep of a bounce pymunk skips the damping of the normal component, so a
  step with a bounce loses slightly less speed, never gains);
* start: position uniform on the table at least ``START_MARGIN`` = 0.1 m from the edges, direction
  uniform, speed uniform in ``SPEED_RANGE`` = (0.6, 1.4) m/s.

These values were chosen so that a ball hits 1-3 cushions in most 50-step windows and each of the
paper's subsets (drop within steps 1-49, 50-99, 100-150 of a 150-step episode, or never) is common:
measured over 1000 episodes, drops 18 % / 15 % / 12 %, never 55 %; 1.6-1.8 cushion hits per
window on average, 83-85 % of windows with 1-3 (``python benchmarks/env_event_rates.py``).

Timing: ``dt = 0.01`` s, 5 substeps, i.e. 20 env steps per second and 7.5 s per 150-step episode.
A ball moves at most 1.4 cm per substep, half its radius, so it never passes through a cushion
and its centre never crosses the edge where a cushion is (only at a pocket mouth).

Observation: the ball position normalised to the table, ``(x / (L/2), y / (W/2))`` in [-1, 1]^2
(corner pockets at (+-1, +-1), side pockets at (0, +-1)); :data:`TABLE_NORMALIZATION` maps both
ways.
No action (zero-size action space), reward 0, never terminates; ``info["pocketed"]`` and
``info["pocket_step"]`` (the step whose observation first shows the ball in the pocket, -1 before).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pymunk
from gymnasium import spaces

from sims.base import NO_OPTIONS, PymunkEnv
from sims.normalization import PositionNormalization
from sims.render import COLORS, Canvas
from sims.walls import add_wall

__all__ = [
    "BALL_RADIUS",
    "CORNER_MOUTH",
    "CUSHION_THICKNESS",
    "POCKETS",
    "SIDE_MOUTH",
    "SPEED_RANGE",
    "START_MARGIN",
    "TABLE_DAMPING",
    "TABLE_LENGTH",
    "TABLE_NORMALIZATION",
    "TABLE_WIDTH",
    "BilliardBallEnv",
]

TABLE_LENGTH = 2.24  #: m, x extent of the playing area
TABLE_WIDTH = 1.12  #: m, y extent of the playing area
BALL_RADIUS = 0.0286  #: m
CUSHION_THICKNESS = 0.04  #: m
CORNER_MOUTH = 0.12  #: m, cushion-free length along each edge from a corner
SIDE_MOUTH = 0.085  #: m, half-width of the cushion gap at a side pocket
TABLE_DAMPING = 0.97  #: fraction of velocity kept per second
SPEED_RANGE = (0.6, 1.4)  #: m/s, initial speed drawn uniformly from this range
START_MARGIN = 0.1  #: m, minimum start distance of the ball centre from the table edge

_HALF_L, _HALF_W = TABLE_LENGTH / 2, TABLE_WIDTH / 2

#: The six pocket points, world coordinates (m).
POCKETS: tuple[tuple[float, float], ...] = (
    (-_HALF_L, -_HALF_W),
    (0.0, -_HALF_W),
    (_HALF_L, -_HALF_W),
    (-_HALF_L, _HALF_W),
    (0.0, _HALF_W),
    (_HALF_L, _HALF_W),
)

#: World (m) <-> observation: ``obs = (x / (L/2), y / (W/2))``.
TABLE_NORMALIZATION = PositionNormalization(offset=(0.0, 0.0), scale=(_HALF_L, _HALF_W))


class BilliardBallEnv(PymunkEnv):
    """One ball on a pool table with six pockets; no actions (see the module docstring).

    Args:
        render_mode: ``None`` or ``"rgb_array"``.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}
    flag_names: ClassVar[tuple[str, ...]] = ("pocketed",)
    observation_names: ClassVar[tuple[str, ...]] = ("ball x", "ball y")
    latent_names: ClassVar[tuple[str, ...]] = ("pocketed", "pocket_step")
    dt: ClassVar[float] = 0.01
    substeps: ClassVar[int] = 5
    damping: ClassVar[float] = TABLE_DAMPING
    world_bounds: ClassVar[tuple[float, float, float, float]] = (
        -_HALF_L - 0.12,
        _HALF_L + 0.12,
        -_HALF_W - 0.12,
        _HALF_W + 0.12,
    )

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode)
        self.observation_space = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.action_space = spaces.Box(-1.0, 1.0, (0,), np.float32)
        self.pocketed = False
        self.pocket_step = -1
        self.cushions: list[pymunk.Segment] = []

    def _build_space(
        self, rng: np.random.Generator, options: Mapping[str, Any] = NO_OPTIONS
    ) -> pymunk.Space:
        space = self._new_space()
        self.cushions = _add_cushions(space)
        reach_x, reach_y = _HALF_L - START_MARGIN, _HALF_W - START_MARGIN
        x, y = rng.uniform((-reach_x, -reach_y), (reach_x, reach_y)).tolist()
        angle = rng.uniform(0.0, 2.0 * np.pi)
        speed = rng.uniform(*SPEED_RANGE)
        ball, self._ball_shape = self._add_disc(space, (x, y), BALL_RADIUS, elasticity=1.0)
        ball.velocity = (speed * np.cos(angle), speed * np.sin(angle))
        self._ball = ball
        self._bodies, self._body_names = (ball,), ("ball",)
        self.pocketed, self.pocket_step = False, -1
        return space

    def _transition(self, action: list[float]) -> tuple[float, bool]:
        x, y = self._xy[0]
        if not self.pocketed and (abs(x) > _HALF_L or abs(y) > _HALF_W):
            pocket = min(POCKETS, key=lambda p: (p[0] - x) ** 2 + (p[1] - y) ** 2)
            self._drop_into(pocket)
            self.pocket_step = self._steps
            self._xy[0] = pocket
        return 0.0, False

    def _drop_into(self, pocket: tuple[float, float]) -> None:
        """Take the ball off the table: park it on ``pocket`` with no velocity and no contacts."""
        self.pocketed = True
        self._place(self._ball, pocket, (0.0, 0.0))
        self._ball_shape.sensor = True

    def _observation(self) -> np.ndarray:
        x, y = self._xy[0]
        return np.array((x / _HALF_L, y / _HALF_W), dtype=np.float32)

    def _info(self) -> dict[str, Any]:
        return {"pocketed": self.pocketed, "pocket_step": self.pocket_step}

    def _get_latent(self) -> list[float]:
        return [float(self.pocketed), float(self.pocket_step)]

    def _set_latent(self, values: list[float]) -> None:
        self.pocketed = bool(values[0])
        self.pocket_step = int(values[1])
        self._ball_shape.sensor = self.pocketed

    def _draw(self, canvas: Canvas) -> None:
        canvas.rect(
            (self.world_bounds[0], self.world_bounds[2]),
            (self.world_bounds[1], self.world_bounds[3]),
            fill=COLORS["rail"],
        )
        canvas.rect((-_HALF_L, -_HALF_W), (_HALF_L, _HALF_W), fill=COLORS["felt"])
        for px, py in POCKETS:
            radius = CORNER_MOUTH if px != 0.0 else SIDE_MOUTH
            canvas.circle((px, py), radius, fill=COLORS["pocket"])
        canvas.segments(self.cushions, COLORS["cushion"])
        canvas.circle(self._xy[0], BALL_RADIUS, fill=COLORS["ball"], outline=COLORS["marker"])


def _add_cushions(space: pymunk.Space) -> list[pymunk.Segment]:
    """Add the six elastic cushions, leaving the pocket mouths open; return their shapes."""
    t, cm, sm = CUSHION_THICKNESS, CORNER_MOUTH, SIDE_MOUTH
    pieces = []
    for sign in (-1.0, 1.0):
        y = sign * _HALF_W
        pieces.append(((-_HALF_L + cm, y), (-sm, y), (0.0, sign)))
        pieces.append(((sm, y), (_HALF_L - cm, y), (0.0, sign)))
        x = sign * _HALF_L
        pieces.append(((x, -_HALF_W + cm), (x, _HALF_W - cm), (sign, 0.0)))
    return [add_wall(space, a, b, outward, t, elasticity=1.0) for a, b, outward in pieces]
