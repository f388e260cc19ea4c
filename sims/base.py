"""The shared base of mbplan's pymunk worlds as gymnasium envs.

:class:`PymunkEnv` owns everything the worlds have in common: a fresh ``pymunk.Space`` built in
every ``reset`` from ``self.np_random`` alone (bodies added in a fixed order), a fixed substep
``dt`` and number of ``substeps`` per env step, action validation, one read of the body positions
per step, simulator state copies (``get_state`` / ``set_state``) and headless rendering through
:mod:`sims.render`. A concrete world fills in a handful of hooks and holds only what differs.

Physics conventions shared by all worlds: no gravity, frictionless shapes, circles of unit mass
with infinite moment (bodies do not spin), ``space.collision_slop`` scaled to the worlds' length
unit, and a collision bias that removes ``overlap_correction`` of any overlap per substep. Agents
are driven by setting their velocity so that they cover the commanded displacement in one env step;
walls stop them by contact. Chipmunk moves bodies out of an overlap with a separate velocity
(``v_bias``) that is not readable; every env step ends by settling it (``_settle_and_read``), so
that position and velocity
form the complete body state and ``set_state`` restores are exact.

Speed: the per-step calls (physics substeps, set velocity, settle, read position) go to Chipmunk
directly through pymunk's cffi binding, on ``space._space`` and ``body._body``. pymunk's wrappers
add a typing ``__setattr__`` hook, asserts, ``Vec2d`` construction and (``Space.step``) bookkeeping
for adding and removing shapes from callbacks, which these worlds do not use; they cost as much as
the physics of these small worlds. The pointers are looked up from the pymunk objects at each use,
never stored: a pointer kept beyond the life of its pymunk wrapper keeps the C object alive without
it, and pymunk's clean-up of the space then crashes. This relies on pymunk internals, hence the pin
``pymunk>=7.3,<7.4``; ``tests/sims/test_sims_base.py`` checks that both paths agree. Building
spaces, state copies and everything else use the public API.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import pymunk
from pymunk._chipmunk import lib as _chipmunk

from sims.render import Canvas, frame_shape

_space_step = _chipmunk.cpSpaceStep
_get_position = _chipmunk.cpBodyGetPosition
_set_velocity = _chipmunk.cpBodySetVelocity
#: Moves a body by ``(v + v_bias) * dt`` and clears ``v_bias`` (with ``dt = 0`` it only clears).
_update_position = _chipmunk.cpBodyUpdatePosition
_AT_REST = (0.0, 0.0)

#: ``_build_space``'s default options, so that ``env._build_space(rng)`` builds a default episode
#: (bare-physics benchmarks use it to step the same bodies without the env around them).
NO_OPTIONS: Mapping[str, Any] = MappingProxyType({})


class PymunkEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base class of the pymunk worlds; subclasses fill in the hooks below.

    ``step`` runs: validate the action; ``_apply_action(action)`` (drive bodies with
    ``_drive``); ``substeps`` calls of ``space.step(dt)``; settle the bodies and read their
    positions into ``self._xy`` (a list of ``(x, y)`` in body order, world units);
    ``_transition(action) -> (reward, terminated)`` (latches, events; may move bodies, then it
    updates ``self._xy``); ``_observation()`` and ``_info()``.

    Subclass hooks: ``_build_space(rng, options) -> pymunk.Space`` (adds the bodies, sets
    ``self._bodies`` and ``self._body_names`` in state order and the episode's random
    parameters), ``_apply_action``, ``_transition``, ``_observation``, ``_info``,
    ``_get_latent`` / ``_set_latent`` (the ``latent_names`` entries of the state) and
    ``_draw(canvas)``.

    Class attributes:
        flag_names: hidden factors reported in ``info`` after ``reset`` and every ``step``.
        option_names: keys accepted in ``reset(options=...)``.
        latent_names: non-body entries of the state vector (latches, episode parameters).
        dt: physics substep in seconds.
        substeps: physics substeps per env step.
        damping: fraction of velocity kept per second (``pymunk.Space.damping``).
        collision_slop: allowed overlap of shapes, world units.
        overlap_correction: fraction of an overlap (beyond the slop) removed per substep.
        bodies_are_driven: True when every body moves only as ``_apply_action`` drives it (it is
            at rest between steps); False for free bodies that keep their velocity.
        world_bounds: ``(x_min, x_max, y_min, y_max)`` shown by ``render``.
        render_width: frame width in pixels.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 10}
    flag_names: ClassVar[tuple[str, ...]] = ()
    #: a name per observation dimension ("agent x", ...), for figures; empty: "obs[i]"
    observation_names: ClassVar[tuple[str, ...]] = ()
    option_names: ClassVar[tuple[str, ...]] = ()
    latent_names: ClassVar[tuple[str, ...]] = ()
    dt: ClassVar[float] = 0.01
    substeps: ClassVar[int] = 5
    damping: ClassVar[float] = 1.0
    collision_slop: ClassVar[float] = 1e-4
    overlap_correction: ClassVar[float] = 0.99
    bodies_are_driven: ClassVar[bool] = False
    world_bounds: ClassVar[tuple[float, float, float, float]] = (-1.0, 1.0, -1.0, 1.0)
    render_width: ClassVar[int] = 480

    def __init__(self, render_mode: str | None = None) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode: expected None or one of {self.metadata['render_modes']}, "
                f"got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._rate = 1.0 / (self.dt * self.substeps)  # velocity per unit displacement per step
        self.space: pymunk.Space | None = None
        self._bodies: tuple[pymunk.Body, ...] = ()
        self._body_names: tuple[str, ...] = ()
        self._xy: list[tuple[float, float]] = []
        self._action_shape: tuple[int, ...] = ()
        self._steps = 0

    # ------------------------------------------------------------------ gymnasium API

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an episode in a newly built space.

        Args:
            seed: seeds ``self.np_random`` (only needed once; later resets continue the stream).
            options: world-specific options, keys from ``option_names``.

        Returns:
            The first observation ``(obs_dim,)`` float32 and the info dict of hidden flags.

        Raises:
            ValueError: on an option key the world does not know.
        """
        super().reset(seed=seed)
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.option_names))
        if unknown:
            raise ValueError(
                f"options: unknown key(s) {unknown} for {type(self).__name__}; "
                f"expected a subset of {list(self.option_names)}"
            )
        self.space = self._build_space(self.np_random, options)
        self._action_shape = self.action_space.shape
        self._steps = 0
        self._read_positions()
        return self._observation(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Advance the world by one env step (``substeps`` physics steps of ``dt``).

        Args:
            action: ``(action_dim,)`` floating-point array; values outside [-1, 1] are clipped.

        Returns:
            ``(observation (obs_dim,) float32, reward, terminated, truncated=False, info)``.

        Raises:
            ValueError: if the action has the wrong shape, a non-floating dtype, or NaN/inf.
            RuntimeError: if called before ``reset``.
        """
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}.step() called before reset()")
        values = self._check_action(action)
        self._apply_action(values)
        space, dt = self.space._space, self.dt
        for _ in range(self.substeps):
            _space_step(space, dt)
        self._settle_and_read(dt)
        self._steps += 1
        reward, terminated = self._transition(values)
        return self._observation(), reward, terminated, False, self._info()

    def render(self) -> np.ndarray | None:
        """Return a ``render_shape`` uint8 frame when ``render_mode == "rgb_array"``, else None."""
        if self.render_mode is None:
            return None
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}.render() called before reset()")
        canvas = Canvas(self.world_bounds, self.render_width)
        self._draw(canvas)
        return canvas.to_array()

    @property
    def render_shape(self) -> tuple[int, int, int]:
        """Shape ``(H, W, 3)`` of the frames returned by ``render``."""
        return frame_shape(self.world_bounds, self.render_width)

    @property
    def step_duration(self) -> float:
        """Simulated seconds per env step, ``dt * substeps``."""
        return self.dt * self.substeps

    # ------------------------------------------------------------------ state copies

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the entries of ``get_state()``: x, y, vx, vy per body, latents, ``steps``."""
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}: the state layout is known after reset()")
        body_entries = tuple(
            f"{name}.{part}" for name in self._body_names for part in ("x", "y", "vx", "vy")
        )
        return (*body_entries, *self.latent_names, "steps")

    def get_state(self) -> np.ndarray:
        """Copy the simulator state: everything needed to continue the episode.

        Returns:
            ``(state_dim,)`` float64: ``x, y, vx, vy`` of every dynamic body (world units and
            units per second) in ``state_names`` order, then the latents, then the step count.
            Driven bodies are at rest between steps (zero velocity).
        """
        if self.space is None:
            raise RuntimeError(f"{type(self).__name__}.get_state() called before reset()")
        out: list[float] = []
        for body in self._bodies:
            position, velocity = body.position, body.velocity
            out += (position.x, position.y, velocity.x, velocity.y)
        out += self._get_latent()
        out.append(float(self._steps))
        return np.array(out, dtype=np.float64)

    def set_state(self, state: np.ndarray) -> None:
        """Restore a state returned by ``get_state`` of an env of the same world and kwargs.

        Bodies are moved in place (no rebuild), so restoring is cheap. Since every ``step`` ends
        with the overlap-correction velocities settled, position and velocity are the whole body
        state: stepping after a restore reproduced the original bit for bit in every case measured
        (tests restore random mid-episode states into other episodes). pymunk's cached contact
        impulses are not part of the state, so with a contact active at the restore, exactness
        rests on the contact solver converging from any warm start (it does for the single
        contacts of these worlds).

        Args:
            state: ``(state_dim,)`` floating-point array.

        Raises:
            ValueError: on a wrong shape, a non-floating dtype or non-finite values.
        """
        names = self.state_names
        arr = np.asarray(state)
        if arr.shape != (len(names),):
            raise ValueError(f"state: expected shape ({len(names)},), got {arr.shape}")
        if arr.dtype.kind != "f":
            raise ValueError(f"state: expected a floating-point dtype, got {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError("state: expected finite values, got NaN or inf")
        values = arr.tolist()
        for i, body in enumerate(self._bodies):
            x, y, vx, vy = values[4 * i : 4 * i + 4]
            self._place(body, (x, y), (vx, vy))
        self._set_latent(values[4 * len(self._bodies) : -1])
        self._steps = int(values[-1])
        self._read_positions()

    # ------------------------------------------------------------------ shared helpers

    def _new_space(self) -> pymunk.Space:
        """Return an empty space with the world's damping, slop and bias (no gravity)."""
        space = pymunk.Space()  # no gravity by default
        if self.damping != 1.0:
            space.damping = self.damping
        space.collision_slop = self.collision_slop
        space.collision_bias = (1.0 - self.overlap_correction) ** (1.0 / self.dt)
        return space

    @staticmethod
    def _add_disc(
        space: pymunk.Space,
        position: tuple[float, float],
        radius: float,
        *,
        elasticity: float = 0.0,
        shape_filter: pymunk.ShapeFilter | None = None,
    ) -> tuple[pymunk.Body, pymunk.Circle]:
        """Add a frictionless, non-rotating dynamic disc of unit mass at ``position``."""
        body = pymunk.Body(1.0, math.inf)
        body.position = position
        shape = pymunk.Circle(body, radius)  # friction 0 by default
        if elasticity:
            shape.elasticity = elasticity
        if shape_filter is not None:
            shape.filter = shape_filter
        space.add(body, shape)
        return body, shape

    @staticmethod
    def _place(
        body: pymunk.Body, position: tuple[float, float], velocity: tuple[float, float]
    ) -> None:
        """Teleport ``body``, dropping the overlap-correction velocity left by the last contact."""
        body.position = position
        body.velocity = velocity
        pymunk.Body.update_position(body, 0.0)

    def _drive(self, index: int, dx: float, dy: float) -> None:
        """Set body ``index``'s velocity so that it moves by ``(dx, dy)`` in one env step.

        In free space the displacement is exact up to rounding; a wall in the way stops the body.
        """
        rate = self._rate
        _set_velocity(self._bodies[index]._body, (dx * rate, dy * rate))

    def _settle_and_read(self, dt: float) -> None:
        """End a step: settle ``v_bias`` and read the positions into ``self._xy``.

        Chipmunk finds a contact only after a substep has moved a body into a wall, and removes
        the overlap with a separate, unreadable velocity ``v_bias`` in the next substep. Driven
        bodies get that last correction applied now (a position-only update with the body at
        rest), so a body pushed into a wall is observed within about ``collision_slop`` of it, and
        they stay at rest until the next action drives them. Free bodies only drop ``v_bias``
        (their overlap, at most one substep's travel, is removed by the next step).
        """
        xy = self._xy = []
        if self.bodies_are_driven:
            for body in self._bodies:
                handle = body._body
                _set_velocity(handle, _AT_REST)
                _update_position(handle, dt)
                p = _get_position(handle)
                xy.append((p.x, p.y))
        else:
            for body in self._bodies:
                handle = body._body
                _update_position(handle, 0.0)
                p = _get_position(handle)
                xy.append((p.x, p.y))

    def _read_positions(self) -> None:
        """Read the body positions into ``self._xy`` (after ``reset`` and ``set_state``)."""
        self._xy = [(p.x, p.y) for p in (_get_position(body._body) for body in self._bodies)]

    def _check_action(self, action: Any) -> list[float]:
        """Validate an action and return its values clipped to [-1, 1] as Python floats."""
        arr = np.asarray(action)
        expected = self._action_shape
        if arr.shape != expected:
            raise ValueError(f"action: expected shape {expected}, got {arr.shape}")
        if arr.dtype.kind != "f":
            raise ValueError(f"action: expected a floating-point dtype, got {arr.dtype}")
        values = arr.tolist()
        for i, v in enumerate(values):
            if not -1.0 <= v <= 1.0:
                if not math.isfinite(v):
                    raise ValueError(f"action: expected finite values, got {v} at index {i}")
                values[i] = 1.0 if v > 0.0 else -1.0
        return values

    # ------------------------------------------------------------------ hooks

    def _build_space(
        self, rng: np.random.Generator, options: Mapping[str, Any] = NO_OPTIONS
    ) -> pymunk.Space:
        """Return a new space holding the episode's bodies drawn from ``rng``."""
        raise NotImplementedError

    def _apply_action(self, action: list[float]) -> None:
        """Set velocities from the validated action (default: nothing to drive)."""

    def _transition(self, action: list[float]) -> tuple[float, bool]:
        """Update latches from ``self._xy``; return ``(reward, terminated)`` (default 0, False)."""
        return 0.0, False

    def _observation(self) -> np.ndarray:
        raise NotImplementedError

    def _info(self) -> dict[str, Any]:
        return {}

    def _get_latent(self) -> list[float]:
        return []

    def _set_latent(self, values: list[float]) -> None:
        """Restore the latents (``latent_names`` order) from ``values``."""

    def _draw(self, canvas: Canvas) -> None:
        raise NotImplementedError
