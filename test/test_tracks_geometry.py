"""Grid and coordinate conventions of core/tracks.py and sim/camera.py."""

import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries, to_normalised, to_pixels
from amplify_ros.sim.camera import PinholeCamera


def test_grid_is_the_papers_grid():
    axis = np.linspace(-1 + 1 / 20, 1 - 1 / 20, 20)
    grid = grid_queries(20)
    assert grid.shape == (400, 2)
    assert np.array_equal(grid[:, 0], np.repeat(axis, 20))  # row-major: row changes slowest
    assert np.array_equal(grid[:, 1], np.tile(axis, 20))


def test_grid_pixels_at_128():
    px = to_pixels(grid_queries(20), 128, 128)
    assert px.min() == pytest.approx(3.2) and px.max() == pytest.approx(124.8)
    assert np.allclose(to_normalised(px, 128, 128), grid_queries(20))


def test_normalisation_uses_height_for_rows_and_width_for_cols():
    assert np.allclose(to_pixels(np.array([[1.0, 1.0]]), 60, 80), [[60, 80]])
    assert np.allclose(to_pixels(np.array([[-1.0, 0.0]]), 60, 80), [[0, 40]])


@pytest.mark.parametrize("rotate", [False, True])
def test_ray_and_projection_are_inverse(rotate):
    cam = PinholeCamera(96, 128, 45.0, rotate_180=rotate)
    rng = np.random.default_rng(0)
    cam_mat = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    cam_pos = rng.normal(size=3)
    pixels = rng.uniform([0, 0], [96, 128], size=(50, 2))
    depth = rng.uniform(0.5, 3.0, size=50)
    world = cam_pos + cam.ray_directions(pixels, cam_mat) * depth[:, None]
    back, d = cam.project(world, cam_pos, cam_mat)
    assert np.allclose(back, pixels, atol=1e-9)
    assert np.allclose(d, depth)


def test_projection_matches_hand_computed_values():
    # camera at the origin looking down -z with MuJoCo's axes: +x right, +y up in the image
    cam = PinholeCamera(100, 100, 90.0)  # focal = 50 px
    pixels, depth = cam.project(np.array([[0.0, 0.0, -1.0], [0.5, 0.5, -1.0]]), np.zeros(3), np.eye(3))
    assert np.allclose(pixels, [[50, 50], [25, 75]])  # +y world is up = smaller row
    assert np.allclose(depth, [1, 1])
    rotated, _ = PinholeCamera(100, 100, 90.0, rotate_180=True).project(
        np.array([[0.5, 0.5, -1.0]]), np.zeros(3), np.eye(3)
    )
    assert np.allclose(rotated, [[75, 25]])
    assert np.allclose(cam.intrinsics(), [[50, 0, 50], [0, 50, 50], [0, 0, 1]])
