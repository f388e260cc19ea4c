"""The shared base: Chipmunk fast path agrees with pymunk's API, settling, renderer, walls."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pymunk
import pytest

from sims.base import _get_position, _set_velocity, _space_step, _update_position
from sims.normalization import PositionNormalization
from sims.remote_control import RobotRemoteControlEnv
from sims.render import Canvas, frame_shape
from sims.walls import add_box, add_wall, clip_inside


def test_chipmunk_fast_path_agrees_with_the_public_api():
    space = pymunk.Space()
    body = pymunk.Body(1.0, float("inf"))
    body.position = (0.25, -1.5)
    space.add(body, pymunk.Circle(body, 0.1))
    p = _get_position(body._body)
    assert (p.x, p.y) == tuple(body.position)
    _set_velocity(body._body, (2.0, -4.0))
    assert tuple(body.velocity) == (2.0, -4.0)
    _update_position(body._body, 0.5)
    assert tuple(body.position) == (1.25, -3.5)


def _bouncing_pair() -> tuple[pymunk.Space, pymunk.Body]:
    space = pymunk.Space()
    add_box(space, (0.0, 0.0), (1.0, 1.0), 0.1, elasticity=1.0)
    body = pymunk.Body(1.0, float("inf"))
    body.position, body.velocity = (0.5, 0.5), (3.0, 1.7)
    shape = pymunk.Circle(body, 0.1)
    shape.elasticity = 1.0
    space.add(body, shape)
    return space, body


def test_direct_space_step_equals_pymunk_space_step():
    (space_a, body_a), (space_b, body_b) = _bouncing_pair(), _bouncing_pair()
    for _ in range(500):  # several wall bounces
        space_a.step(0.01)
        _space_step(space_b._space, 0.01)
    assert tuple(body_a.position) == tuple(body_b.position)
    assert tuple(body_a.velocity) == tuple(body_b.velocity)


def test_driven_bodies_are_at_rest_between_steps():
    env = RobotRemoteControlEnv()
    env.reset(seed=0)
    env.step(np.array([0.5, 0.5], np.float32))
    state = env.get_state()
    assert np.all(state[[2, 3, 6, 7]] == 0.0)


def test_a_body_pushed_into_a_wall_is_settled_against_it():
    env = RobotRemoteControlEnv()
    env.reset(seed=0)
    env.set_state(np.array([0.9, 0.0, 0, 0, 2.0, 0.0, 0, 0, 0.0, 0.0]))
    xs = [env.step(np.array([1.0, 0.0], np.float32))[0][0] for _ in range(20)]
    # the reference clips at 0.95; the wall stops the disc there up to the contact slop
    assert max(xs) <= 0.95 + 1e-3 and xs[-1] == pytest.approx(0.95, abs=2e-4)


def test_walls_put_their_inner_face_on_the_given_line():
    space = pymunk.Space()
    wall = add_wall(space, (0.0, 1.0), (2.0, 1.0), (0.0, 1.0), 0.2)
    assert wall.radius == pytest.approx(0.1)
    assert tuple(wall.a) == pytest.approx((0.0, 1.1)) and tuple(wall.b) == pytest.approx((2.0, 1.1))
    box = add_box(space, (0.0, 0.0), (1.0, 2.0), 0.2)
    faces = [s.a[1] - s.radius for s in box[:1]] + [s.a[1] + s.radius for s in box[1:2]]
    assert faces == pytest.approx([-0.2, 2.2])  # centre lines shifted out by half the thickness
    assert tuple(box[2].a)[0] + 0.1 == pytest.approx(0.0) and tuple(box[3].a)[0] - 0.1 == 1.0
    with pytest.raises(ValueError, match="thickness"):
        add_wall(space, (0, 0), (1, 0), (0, -1), 0.0)
    assert clip_inside((5.0, -5.0), (0.0, 0.0), (1.0, 1.0), 0.1) == (0.9, 0.1)


def test_position_normalization_round_trips():
    norm = PositionNormalization(offset=(1.0, -0.5), scale=(2.0, 2.0))
    world = np.array([[-0.95, -0.95], [2.95, -0.05]])
    np.testing.assert_allclose(norm.world_to_obs(world), [[-0.975, -0.225], [0.975, 0.225]])
    np.testing.assert_allclose(norm.obs_to_world(norm.world_to_obs(world)), world)


def test_canvas_maps_world_to_pixels_with_y_up():
    canvas = Canvas((0.0, 2.0, 0.0, 1.0), width=200, background=(0, 0, 0), supersample=1)
    assert canvas.shape == frame_shape((0.0, 2.0, 0.0, 1.0), 200) == (100, 200, 3)
    canvas.rect((0.0, 0.5), (1.0, 1.0), fill=(255, 0, 0))  # top-left quarter in world terms
    frame = canvas.to_array()
    assert frame.dtype == np.uint8 and frame.shape == (100, 200, 3)
    assert tuple(frame[10, 10]) == (255, 0, 0) and tuple(frame[90, 10]) == (0, 0, 0)
    assert tuple(frame[10, 190]) == (0, 0, 0)
    with pytest.raises(ValueError, match="bounds"):
        Canvas((1.0, 0.0, 0.0, 1.0), width=10)


def test_resets_and_discarded_envs_free_their_spaces_cleanly():
    # pymunk frees a space from a garbage-collector callback; a Chipmunk pointer that outlived its
    # pymunk wrapper made that callback crash the interpreter, so run the pattern in a subprocess
    script = """
import gc, numpy as np, gymnasium as gym, sims
for env_id in sims.ENV_IDS:
    for _ in range(3):
        env = gym.make(env_id).unwrapped
        env.reset(seed=0)
        for _ in range(4):
            for _ in range(30):
                env.step(np.zeros(env.action_space.shape, np.float32))
                env.get_state()
            env.reset()
        del env
        gc.collect()
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
