"""Static walls for pymunk worlds: thick segments whose inner face lies on a given line.

A wall is a pymunk ``Segment`` on the space's static body with radius ``thickness / 2``, shifted
outwards by half its thickness, so that bodies inside the playing area touch it exactly on the line
``a``-``b``. Thick walls cannot be tunnelled through by a body that moves less than the wall's
thickness per substep, which thin segments would allow.
"""

from __future__ import annotations

import pymunk

#: Collision filter that collides with everything (pymunk's default).
ALL = pymunk.ShapeFilter()


def add_wall(
    space: pymunk.Space,
    a: tuple[float, float],
    b: tuple[float, float],
    outward: tuple[float, float],
    thickness: float,
    *,
    elasticity: float = 0.0,
    shape_filter: pymunk.ShapeFilter = ALL,
) -> pymunk.Segment:
    """Add one straight wall with its inner face on the line from ``a`` to ``b``.

    Args:
        space: the space to add the wall to (on ``space.static_body``).
        a: one end of the inner face, world units.
        b: the other end of the inner face, world units.
        outward: unit normal pointing away from the playing area.
        thickness: wall thickness, world units (> 0).
        elasticity: restitution of the wall (contact restitution is the product of both shapes').
        shape_filter: which bodies the wall collides with.

    Returns:
        The added frictionless segment shape.

    Raises:
        ValueError: if ``thickness`` is not positive.
    """
    if not thickness > 0:
        raise ValueError(f"thickness: expected a positive wall thickness, got {thickness}")
    half = thickness / 2
    shift = (outward[0] * half, outward[1] * half)
    shape = pymunk.Segment(
        space.static_body,
        (a[0] + shift[0], a[1] + shift[1]),
        (b[0] + shift[0], b[1] + shift[1]),
        half,
    )
    # pymunk's defaults are friction 0, elasticity 0 and collide-with-all; setting a pymunk
    # attribute is slow enough to matter in every reset, so only non-defaults are set
    if elasticity:
        shape.elasticity = elasticity
    if shape_filter != ALL:
        shape.filter = shape_filter
    space.add(shape)
    return shape


def add_box(
    space: pymunk.Space,
    lower: tuple[float, float],
    upper: tuple[float, float],
    thickness: float,
    *,
    elasticity: float = 0.0,
    shape_filter: pymunk.ShapeFilter = ALL,
) -> list[pymunk.Segment]:
    """Add four walls whose inner faces enclose the rectangle from ``lower`` to ``upper``.

    The walls are extended by ``thickness`` past each corner so the corners are closed.

    Returns:
        The four segment shapes, in the order bottom, top, left, right.
    """
    (x0, y0), (x1, y1), t = lower, upper, thickness
    kwargs = {"elasticity": elasticity, "shape_filter": shape_filter}
    return [
        add_wall(space, (x0 - t, y0), (x1 + t, y0), (0.0, -1.0), t, **kwargs),
        add_wall(space, (x0 - t, y1), (x1 + t, y1), (0.0, 1.0), t, **kwargs),
        add_wall(space, (x0, y0 - t), (x0, y1 + t), (-1.0, 0.0), t, **kwargs),
        add_wall(space, (x1, y0 - t), (x1, y1 + t), (1.0, 0.0), t, **kwargs),
    ]


def clip_inside(
    xy: tuple[float, float] | list[float],
    lower: tuple[float, float],
    upper: tuple[float, float],
    radius: float,
) -> tuple[float, float]:
    """Clip a disc centre into the rectangle ``lower``-``upper`` shrunk by the disc ``radius``."""
    x = min(max(float(xy[0]), lower[0] + radius), upper[0] - radius)
    y = min(max(float(xy[1]), lower[1] + radius), upper[1] - radius)
    return x, y
