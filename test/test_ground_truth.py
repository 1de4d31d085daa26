"""Exact ground-truth tracks on a small MuJoCo scene whose answers are computed by hand."""

import mujoco
import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries, to_pixels
from amplify_ros.sim.ground_truth import GroundTruthTracker, camera_for

SCENE = """
<mujoco>
  <worldbody>
    <light pos="0 0 3"/>
    <camera name="down" pos="0 0 2" xyaxes="1 0 0 0 1 0" fovy="60"/>
    <camera name="level" pos="0 -3 0.5" xyaxes="1 0 0 0 0 1" fovy="60"/>
    <camera name="upside_down" pos="0 -3 0.5" xyaxes="-1 0 0 0 0 -1" fovy="60"/>
    <geom name="floor" type="plane" size="3 3 0.1"/>
    <body name="slider" mocap="true" pos="0.3 0.5 0.2"><geom type="box" size="0.25 0.25 0.05"/></body>
    <body name="plate" mocap="true" pos="5 5 1"><geom type="box" size="0.15 0.15 0.01"/></body>
    <body name="pole" mocap="true" pos="5 5 1"><geom type="box" size="0.3 0.3 0.3"/></body>
  </worldbody>
</mujoco>
"""
H = W = 64
FRAMES = 12
TOP_Z = 0.25  # slider top face
OCCLUDED_FRAMES = range(3, 6)


def slider_pose(t):
    return np.array([0.3, 0.5 + 0.05 * t, 0.2]), 0.03 * t


def rot_z(a):
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def run_scene(camera="down"):
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    tracker = GroundTruthTracker(model, camera, camera_for(model, data, camera, H, W))
    for t in range(FRAMES):
        pos, yaw = slider_pose(t)
        data.mocap_pos[0] = pos
        data.mocap_quat[0] = [np.cos(yaw / 2), 0, 0, np.sin(yaw / 2)]
        data.mocap_pos[1] = [-0.5, 0.5, 1.0] if t in OCCLUDED_FRAMES else [5, 5, 1]
        data.mocap_pos[2] = [0, 2, 1.5] if t in OCCLUDED_FRAMES else [5, 5, 1]  # seen by "level" only
        mujoco.mj_forward(model, data)
        tracker.observe(data)
    return model, tracker.tracks()


def down_camera_project(p):
    """Hand-written pinhole for the 'down' camera (at z=2, image up = +y world)."""
    f = (H / 2) / np.tan(np.deg2rad(30))
    depth = 2 - p[..., 2]
    return np.stack([H / 2 - f * p[..., 1] / depth, W / 2 + f * p[..., 0] / depth], axis=-1)


def down_camera_ray_to_z(pixels, z):
    f = (H / 2) / np.tan(np.deg2rad(30))
    d = np.stack([(pixels[:, 1] - W / 2) / f, (H / 2 - pixels[:, 0]) / f, -np.ones(len(pixels))], axis=-1)
    return np.array([0, 0, 2]) + (2 - z) * d


@pytest.fixture(scope="module")
def down():
    return run_scene("down")


def test_step_zero_is_the_papers_grid(down):
    _, (points, visible) = down
    assert points.shape == (FRAMES, 16, 400, 2) and visible.shape == (FRAMES, 16, 400)
    assert np.array_equal(points[:, 0], np.broadcast_to(grid_queries(20).astype(np.float32), (FRAMES, 400, 2)))
    assert visible[:, 0].all()


def test_static_floor_points_do_not_move(down):
    _, (points, _) = down
    px = to_pixels(points, H, W)
    grid_px = to_pixels(grid_queries(20), H, W)
    for s in range(FRAMES):
        # (rays at 30 degrees also meet the slider's 0.1 m high sides: exclude a wide margin)
        on_floor = ~np.isin(np.arange(400), _slider_points(s, margin=-0.07))
        on_floor &= ~_through_plate(grid_px, margin=-0.02) if s in OCCLUDED_FRAMES else True
        assert np.abs(px[s][:, on_floor] - grid_px[on_floor]).max() < 0.01


def _slider_points(t, margin=0.01):
    """Grid points whose ray meets the slider's top face at frame t (shrunk by ``margin`` m)."""
    pos, yaw = slider_pose(t)
    world = down_camera_ray_to_z(to_pixels(grid_queries(20), H, W), TOP_Z)
    local = (world - pos) @ rot_z(yaw)
    half = 0.25 - margin
    return np.flatnonzero((np.abs(local[:, 0]) < half) & (np.abs(local[:, 1]) < half))


def _through_plate(pixels, margin=0.01):
    """Pixels whose ray crosses the plate (centre (-0.5, 0.5, 1), half size 0.15)."""
    crossing = down_camera_ray_to_z(pixels, 1.0)
    half = 0.15 - margin
    return (np.abs(crossing[:, 0] + 0.5) < half) & (np.abs(crossing[:, 1] - 0.5) < half)


def test_points_on_a_moving_body_follow_its_full_pose(down):
    _, (points, visible) = down
    px = to_pixels(points, H, W)
    checked = 0
    for s in range(FRAMES):
        idx = _slider_points(s)
        pos0, yaw0 = slider_pose(s)
        world0 = down_camera_ray_to_z(to_pixels(grid_queries(20), H, W)[idx], TOP_Z)
        local = (world0 - pos0) @ rot_z(yaw0)  # R^T (p - c)
        for k in range(1, min(16, FRAMES - s)):
            pos, yaw = slider_pose(s + k)
            expected = down_camera_project(local @ rot_z(yaw).T + pos)
            inside = (expected[:, 0] >= 0) & (expected[:, 0] < H) & (expected[:, 1] >= 0) & (expected[:, 1] < W)
            assert np.allclose(px[s, k, idx], expected, atol=1e-4)  # float32 storage
            assert np.array_equal(visible[s, k, idx], inside)  # nothing covers the slider
            checked += len(idx)
    assert checked > 500
    assert not visible[0, 15, _slider_points(0)].all()  # some did leave the image


def test_points_behind_an_occluder_are_invisible(down):
    _, (_, visible) = down
    grid_px = to_pixels(grid_queries(20), H, W)
    under = _through_plate(grid_px)
    clear = ~_through_plate(grid_px, margin=-0.01)
    assert under.sum() >= 4
    for k in range(1, FRAMES):
        hidden = k in OCCLUDED_FRAMES
        assert not visible[0, k, under].any() if hidden else visible[0, k, under].all()
        clear_now = clear.copy()
        clear_now[_slider_points(0, margin=-0.05)] = False  # start on the slider: may leave the image
        clear_now[_slider_points(k, margin=-0.02)] = False  # floor the slider covers at frame k
        assert visible[0, k, clear_now].all()


def test_windows_past_the_end_repeat_the_last_frame(down):
    _, (points, visible) = down
    for s in range(FRAMES - 15, FRAMES):
        last = FRAMES - 1 - s
        assert np.array_equal(points[s, last:], np.broadcast_to(points[s, last], points[s, last:].shape))
        assert np.array_equal(visible[s, last:], np.broadcast_to(visible[s, last], visible[s, last:].shape))


def test_background_points_stay_put_and_are_hidden_by_what_passes_in_front():
    _, (points, visible) = run_scene("level")
    # The level camera looks along +y from z = 0.5: the top rows of the grid see only sky.
    sky = grid_queries(20)[:, 0] < -0.3
    windows = [s for s in range(FRAMES) if s not in OCCLUDED_FRAMES]  # others start on the pole
    drift = points[windows][:, :, sky] - points[windows][:, :1, sky]
    assert np.abs(drift).max() * H / 2 < 0.01
    # The pole at (0, 2, 1.5), 5 m ahead and 1 m up, hides some sky while it is there.
    hidden = ~visible[0, 1:][:, sky]  # window 0, steps 1..
    assert hidden[[k - 1 for k in OCCLUDED_FRAMES]].all(axis=0).sum() >= 4
    assert not hidden[[k - 1 for k in range(1, FRAMES) if k not in OCCLUDED_FRAMES]].any()


def test_upside_down_camera_is_stored_upright():
    model = mujoco.MjModel.from_xml_string(SCENE)
    data = mujoco.MjData(model)
    mujoco.mj_forward(model, data)
    assert camera_for(model, data, "down", H, W).rotate_180 is False
    assert camera_for(model, data, "level", H, W).rotate_180 is False
    assert camera_for(model, data, "upside_down", H, W).rotate_180 is True
    # Stored upright, the rolled camera's tracks equal the level camera's, mirrored in nothing.
    _, (level, level_vis) = run_scene("level")
    _, (rolled, rolled_vis) = run_scene("upside_down")
    assert np.abs(rolled[:, 1:] - level[:, 1:]).max() < 1e-5
    assert np.array_equal(rolled_vis, level_vis)
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        camera_for(model, data, "nope", H, W)
