"""The top-down agent worlds of the GateL0RD reference (Robot Remote Control, Shepherd).

Both share the reference's scale (``shared/reference/gatel0rd.md`` Sec. 2.2, 2.3): a world about
4 x 2 units, discs of radius ``BODY_RADIUS`` = 0.05 (the reference clips positions 0.05 inside its
walls), and an agent that moves by ``ACTION_SCALE`` = 0.1 times its action per step. All bodies are
velocity-driven (at rest between steps); walls 0.1 thick stop them by contact. ``dt = 0.05`` s and
2 substeps (0.1 s per step): a body moves at most 0.05 per axis per substep, half the wall
thickness, so it cannot pass through a wall.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import pymunk

from sims.base import PymunkEnv
from sims.walls import clip_inside

ACTION_SCALE = 0.1  #: displacement per step per unit action
BODY_RADIUS = 0.05  #: radius of every body in these worlds
WALL_THICKNESS = 0.1


class AgentWorldEnv(PymunkEnv):
    """Base of the worlds where an agent is moved by ``ACTION_SCALE * action`` per step."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    dt: ClassVar[float] = 0.05
    substeps: ClassVar[int] = 2
    bodies_are_driven: ClassVar[bool] = True
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-1.1, 3.1, -1.1, 1.1)
    render_width: ClassVar[int] = 560

    @staticmethod
    def _threshold(name: str, value: float) -> float:
        """Return ``value`` as a float after checking it is a positive finite distance.

        Raises:
            ValueError: naming ``name`` if ``value`` is not a positive finite number.
        """
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name}: expected a positive distance, got {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a positive finite distance, got {value}")
        return float(value)

    def _add_body(
        self,
        space: pymunk.Space,
        position: tuple[float, float],
        area: tuple[tuple[float, float], tuple[float, float]] | None,
        categories: int,
        mask: int,
    ) -> pymunk.Body:
        """Add a disc at ``position``, clipped into ``area`` (lower, upper corners) if given.

        Args:
            space: the episode's space.
            position: wanted centre, world units; clipped so the disc lies inside ``area``.
            area: the rectangle whose walls hold the body, or None to place it as given.
            categories: the body's collision category bits.
            mask: the categories it collides with.

        Returns:
            The added body.
        """
        if area is not None:
            position = clip_inside(position, *area, BODY_RADIUS)
        body, _ = self._add_disc(
            space,
            position,
            BODY_RADIUS,
            shape_filter=pymunk.ShapeFilter(categories=categories, mask=mask),
        )
        return body

    def _move_agent(self, action: list[float]) -> tuple[float, float]:
        """Drive body 0 (the agent) by ``ACTION_SCALE * action[:2]``; return that displacement."""
        dx, dy = ACTION_SCALE * action[0], ACTION_SCALE * action[1]
        self._drive(0, dx, dy)
        return dx, dy
