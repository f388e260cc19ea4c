"""Headless drawing of 2D worlds into ``(H, W, 3)`` uint8 frames.

All mbplan worlds draw through one :class:`Canvas`, which maps world coordinates (y up) to pixels
(y down) and draws with Pillow's ``ImageDraw``. Pillow is already a dependency, needs no display
and no video driver, and draws a frame in about a millisecond, so ``render_mode="rgb_array"`` works
on a headless machine without pygame or matplotlib. Shapes are drawn at ``supersample`` times the
output size and downsampled for smooth edges.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pymunk
from PIL import Image, ImageDraw

Color = tuple[int, int, int]

#: The palette shared by all worlds, so that frames of different worlds read alike.
COLORS: dict[str, Color] = {
    "background": (245, 242, 232),
    "wall": (70, 70, 80),
    "felt": (34, 120, 70),
    "rail": (110, 70, 40),
    "cushion": (20, 80, 45),
    "pocket": (15, 15, 15),
    "ball": (250, 250, 250),
    "agent": (40, 90, 200),
    "robot": (200, 120, 30),
    "robot_active": (230, 60, 30),
    "computer": (90, 90, 100),
    "goal": (240, 150, 40),
    "sheep": (255, 255, 255),
    "sheep_outline": (60, 60, 60),
    "cage": (120, 80, 40),
    "lever": (150, 40, 40),
    "lever_on": (40, 160, 60),
    "gate": (150, 40, 40),
    "stable": (200, 170, 120),
    "grass": (200, 230, 170),
    "floor": (225, 225, 230),
    "marker": (30, 30, 30),
}


class Canvas:
    """A frame onto a rectangle of the world.

    Args:
        bounds: ``(x_min, x_max, y_min, y_max)`` of the visible world, in world units.
        width: output width in pixels; the height follows the aspect ratio of ``bounds``.
        background: fill colour.
        supersample: drawing resolution factor before downsampling (1 disables smoothing).

    Raises:
        ValueError: if the bounds are empty or ``width``/``supersample`` is not positive.
    """

    def __init__(
        self,
        bounds: tuple[float, float, float, float],
        width: int,
        background: Color = COLORS["background"],
        supersample: int = 2,
    ) -> None:
        x_min, x_max, y_min, y_max = bounds
        if not (x_max > x_min and y_max > y_min):
            raise ValueError(f"bounds: expected x_min < x_max and y_min < y_max, got {bounds}")
        if width < 1 or supersample < 1:
            raise ValueError(
                f"width and supersample: expected positive integers, got {width}, {supersample}"
            )
        self.shape = frame_shape(bounds, width)
        self._ss = supersample
        self._x_min, self._y_max = x_min, y_max
        self._scale = width * supersample / (x_max - x_min)  # pixels per world unit
        size = (self.shape[1] * supersample, self.shape[0] * supersample)
        self._image = Image.new("RGB", size, background)
        self._draw = ImageDraw.Draw(self._image)

    def _px(self, x: float, y: float) -> tuple[float, float]:
        return (x - self._x_min) * self._scale, (self._y_max - y) * self._scale

    def rect(
        self,
        lower: Sequence[float],
        upper: Sequence[float],
        fill: Color | None,
        outline: Color | None = None,
        line_width: float = 0.0,
    ) -> None:
        """Draw an axis-aligned rectangle between world corners ``lower`` and ``upper``."""
        x0, y1 = self._px(lower[0], lower[1])
        x1, y0 = self._px(upper[0], upper[1])
        self._draw.rectangle(
            (x0, y0, x1, y1), fill=fill, outline=outline, width=self._line(line_width)
        )

    def circle(
        self,
        center: Sequence[float],
        radius: float,
        fill: Color | None,
        outline: Color | None = None,
        line_width: float = 0.0,
    ) -> None:
        """Draw a circle of world ``radius`` around world point ``center``."""
        cx, cy = self._px(center[0], center[1])
        r = radius * self._scale
        self._draw.ellipse(
            (cx - r, cy - r, cx + r, cy + r),
            fill=fill,
            outline=outline,
            width=self._line(line_width),
        )

    def segment(self, a: Sequence[float], b: Sequence[float], radius: float, fill: Color) -> None:
        """Draw a capsule (a thick segment with round ends) of world ``radius``."""
        pa, pb = self._px(a[0], a[1]), self._px(b[0], b[1])
        width = max(1, round(2 * radius * self._scale))
        self._draw.line((pa, pb), fill=fill, width=width)
        for p in (pa, pb):
            r = width / 2
            self._draw.ellipse((p[0] - r, p[1] - r, p[0] + r, p[1] + r), fill=fill)

    def polygon(self, points: Iterable[Sequence[float]], fill: Color) -> None:
        """Draw a filled polygon through world ``points``."""
        self._draw.polygon([self._px(p[0], p[1]) for p in points], fill=fill)

    def segments(self, shapes: Iterable[pymunk.Segment], fill: Color) -> None:
        """Draw pymunk segment shapes (walls, cushions) as the capsules they collide as."""
        for shape in shapes:
            self.segment(shape.a, shape.b, shape.radius, fill)

    def _line(self, width: float) -> int:
        return max(1, round(width * self._scale)) if width > 0 else 1

    def to_array(self) -> np.ndarray:
        """Return the frame as a ``(H, W, 3)`` uint8 array."""
        image = self._image
        if self._ss > 1:
            image = image.resize((self.shape[1], self.shape[0]), Image.Resampling.BOX)
        return np.asarray(image, dtype=np.uint8).copy()


def frame_shape(bounds: tuple[float, float, float, float], width: int) -> tuple[int, int, int]:
    """Return the ``(H, W, 3)`` shape of a frame of ``width`` pixels onto world ``bounds``."""
    x_min, x_max, y_min, y_max = bounds
    height = max(1, round(width * (y_max - y_min) / (x_max - x_min)))
    return height, width, 3
