"""Exact tracks in a real Meta-World scene, checked against an independent re-computation
(OpenCV projection of the gripper's own pose) and against MuJoCo's segmentation renderer."""

import cv2
import mujoco
import numpy as np
import pytest

from amplify_ros.core.tracks import grid_queries, to_pixels
from amplify_ros.sim.ground_truth import GroundTruthTracker, ray_model
from amplify_ros.sim.metaworld_env import MetaWorldTask

SIZE = 128
STEPS = 40
SEG_SCALE = 3  # segmentation rendered 3x finer: a label is read within 1/6 px of the point


def _opencv_project(points, cam_pos, cam_mat, fovy, rotate):
    """Project with cv2.projectPoints: OpenCV's camera has y down and looks along +z."""
    r_cv = (cam_mat @ np.diag([1.0, -1.0, -1.0])).T  # world -> OpenCV camera
    f = (SIZE / 2) / np.tan(np.deg2rad(fovy) / 2)
    k = np.array([[f, 0, SIZE / 2], [0, f, SIZE / 2], [0, 0, 1]])
    uv, _ = cv2.projectPoints(points.reshape(-1, 1, 3), cv2.Rodrigues(r_cv)[0], -r_cv @ cam_pos, k, None)
    rc = uv.reshape(-1, 2)[:, ::-1]
    return SIZE - rc if rotate else rc


@pytest.fixture(scope="module")
def rollout():
    sim = MetaWorldTask("button-press-topdown", SIZE, ("corner",))
    cam = sim.camera_models["corner"]
    cam_id = sim.model.camera("corner").id
    gripper = [sim.model.body(n).id for n in ("hand", "rightclaw", "rightpad", "leftclaw", "leftpad")]
    seg_renderer = mujoco.Renderer(sim.model, SIZE * SEG_SCALE, SIZE * SEG_SCALE)
    seg_renderer.enable_segmentation_rendering()
    tracker = GroundTruthTracker(sim.model, "corner", cam)
    sim.reset(3)
    frames = []
    for _ in range(STEPS):
        seg_renderer.update_scene(sim.data, camera="corner")
        seg = seg_renderer.render()[..., 0]  # geom id per pixel (-1: nothing)
        if cam.rotate_180:
            seg = seg[::-1, ::-1]
        body = np.where(seg >= 0, sim.model.geom_bodyid[np.maximum(seg, 0)], -1)
        frames.append(
            {
                "seg_body": body,
                "xpos": sim.data.xpos.copy(),
                "xquat": sim.data.xquat.copy(),
                "cam_pos": sim.data.cam_xpos[cam_id].copy(),
                "cam_mat": sim.data.cam_xmat[cam_id].reshape(3, 3).copy(),
                "hits": _grid_hits(sim, cam, cam_id),
            }
        )
        tracker.observe(sim.data)
        sim.step(sim.expert_action())
    seg_renderer._gl_context.make_current()
    seg_renderer.close()
    points, visible = tracker.tracks()
    result = dict(
        points=points, visible=visible, bodies=tracker.start_bodies(), frames=frames, gripper=gripper, cam=cam
    )
    sim.close()
    return result


def _grid_hits(sim, cam, cam_id):
    """3D point under every grid pixel, by one mj_ray per point (the tracker batches them)."""
    dirs = cam.ray_directions(to_pixels(grid_queries(20), SIZE, SIZE), sim.data.cam_xmat[cam_id].reshape(3, 3))
    origin = sim.data.cam_xpos[cam_id]
    hits = np.full((400, 3), np.nan)
    geom = np.zeros(1, np.int32)
    for n, d in enumerate(dirs):
        dist = mujoco.mj_ray(sim.model, sim.data, origin, d, np.array([1, 1, 1, 0, 0, 0], np.uint8), 1, -1, geom)
        if dist >= 0:
            hits[n] = origin + dist * d
    return hits


def test_gripper_points_follow_the_gripper_pose(rollout):
    frames, bodies = rollout["frames"], rollout["bodies"]
    px = to_pixels(rollout["points"], SIZE, SIZE)
    compared = 0
    for s in range(STEPS - 15):
        for n in np.flatnonzero(np.isin(bodies[s], rollout["gripper"])):
            b, f0 = bodies[s, n], frames[s]
            local = _rotate(_conj(f0["xquat"][b]), f0["hits"][n] - f0["xpos"][b])
            for k in range(1, 16):
                f = frames[s + k]
                world = _rotate(f["xquat"][b], local) + f["xpos"][b]
                expected = _opencv_project(
                    world, f["cam_pos"], f["cam_mat"], rollout["cam"].fovy_deg, rollout["cam"].rotate_180
                )
                assert np.allclose(px[s, k, n], expected, atol=2e-3)  # float32 storage
                compared += 1
    assert compared > 200


def test_visible_gripper_points_land_on_their_own_pixels(rollout):
    frames, bodies = rollout["frames"], rollout["bodies"]
    px = to_pixels(rollout["points"], SIZE, SIZE)
    exact = near = total = 0
    for s in range(STEPS - 15):
        on_gripper = np.isin(bodies[s], rollout["gripper"])
        for k in range(1, 16):
            keep = on_gripper & rollout["visible"][s, k]
            r, c = np.floor(px[s, k, keep] * SEG_SCALE).astype(int).T
            seg, own = frames[s + k]["seg_body"], bodies[s, keep]
            exact += (seg[r, c] == own).sum()
            one_px = range(-SEG_SCALE, SEG_SCALE + 1)
            last = SIZE * SEG_SCALE - 1
            around = [seg[np.clip(r + dr, 0, last), np.clip(c + dc, 0, last)] for dr in one_px for dc in one_px]
            near += (np.stack(around) == own).any(axis=0).sum()
            total += keep.sum()
    assert total > 150
    assert exact / total > 0.85  # edges of 1-2 px wide pads are where the rest fall
    assert near / total > 0.98


def test_static_scenery_does_not_move(rollout):
    px = to_pixels(rollout["points"], SIZE, SIZE)
    static = rollout["bodies"] <= 2  # world, table, retaining wall: none of them move
    start = px[:, :1]
    drift = np.abs(px - start).max(axis=(1, 3))  # (T, N)
    assert static.sum() > 1000
    assert drift[static].max() < 0.01


def _conj(q):
    return q * np.array([1, -1, -1, -1])


def _rotate(q, v):
    out = np.zeros(3)
    mujoco.mju_rotVecQuat(out, v, q)
    return out


def test_batched_rays_agree_with_single_rays():
    """Guards the multi-ray workaround (sim.ground_truth.ray_model) on the rotating arm."""
    sim = MetaWorldTask("door-open", SIZE, ("corner",))
    cam_id = sim.model.camera("corner").id
    fixed = ray_model(sim.model)
    groups = np.array([1, 1, 1, 0, 0, 0], np.uint8)
    sim.reset(1)
    rng = np.random.default_rng(0)
    mismatches = 0
    for _ in range(30):
        origin = sim.data.cam_xpos[cam_id].copy()
        dirs = sim.camera_models["corner"].ray_directions(
            rng.uniform(0, SIZE, (400, 2)), sim.data.cam_xmat[cam_id].reshape(3, 3)
        )
        geom, dist = np.zeros(400, np.int32), np.zeros(400)
        mujoco.mj_multiRay(fixed, sim.data, origin, dirs.ravel(), groups, 1, -1, geom, dist, 400, 1e4)
        one = np.zeros(1, np.int32)
        single = np.array([mujoco.mj_ray(sim.model, sim.data, origin, d, groups, 1, -1, one) for d in dirs])
        mismatches += int((np.abs(dist - single) > 1e-9).sum())
        sim.step(sim.expert_action())
    sim.close()
    assert mismatches == 0
