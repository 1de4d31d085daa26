"""Exact ground-truth point tracks from a MuJoCo simulation.

For every frame t a fresh grid is cast into the scene (one ray per grid point from the camera);
each hit point is attached to the body it landed on and moved with that body's full pose over
the next frames, then projected back into the image. A point is visible when it is in front of
the camera, inside the image and the first surface a ray from the camera meets on the way to it
is the point itself (an exact depth test). Rays that hit nothing see the background at
infinity: such points are directions, not positions, and are occluded by anything that comes
in front of them. Windows running past the last frame repeat it, as the paper pads its videos.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import mujoco
import numpy as np

from amplify_ros.core.tracks import GRID_SIZE, HORIZON, grid_queries, to_normalised, to_pixels
from amplify_ros.sim.camera import PinholeCamera

# Geom groups that MuJoCo's renderer draws by default; rays ignore the rest (collision meshes).
RENDERED_GEOM_GROUPS = np.array([1, 1, 1, 0, 0, 0], dtype=np.uint8)
_RAY_CUTOFF_M = 1e4


@dataclass
class _Window:
    start: int
    body: np.ndarray  # (N,) body id under each point, -1 for background
    local: np.ndarray  # (N, 3) point in its body's frame, or world direction for background
    pixels: np.ndarray  # (horizon, N, 2) pixel (row, col) per step, filled as frames arrive
    visible: np.ndarray  # (horizon, N)


def ray_model(model: mujoco.MjModel) -> mujoco.MjModel:
    """A copy of ``model`` on which ``mj_multiRay`` agrees with ``mj_ray``.

    MuJoCo 3.3's multi-ray skips a body when a ray misses a sphere around the body's bounding
    box, but places that sphere without rotating the box's centre offset with the body, so it
    misses geoms of rotated bodies (74 of 72,000 rays on Meta-World's arm). Centring the sphere
    on the body and growing it by the offset makes the test conservative again. Only the copy is
    changed: physics keeps the original model.
    """
    fixed = copy.copy(model)
    has_bvh = fixed.body_bvhadr >= 0
    roots = fixed.body_bvhadr[has_bvh]
    box = fixed.bvh_aabb[roots].copy()  # (B, 6): centre offset, half size
    radius = np.linalg.norm(box[:, 3:], axis=1)
    slack = np.linalg.norm(box[:, :3], axis=1) + np.linalg.norm(fixed.body_ipos[has_bvh], axis=1)
    box[:, 3:] *= ((radius + slack) / np.maximum(radius, 1e-12))[:, None]
    box[:, :3] = 0
    fixed.bvh_aabb[roots] = box
    return fixed


def camera_for(model: mujoco.MjModel, data: mujoco.MjData, name: str, height: int, width: int) -> PinholeCamera:
    """The pinhole model of camera ``name``, stored upright: rotated 180 degrees when its up axis
    points downwards in the world at the current state."""
    try:
        cam_id = model.camera(name).id
    except KeyError:
        names = [model.camera(i).name for i in range(model.ncam)]
        raise ValueError(f"unknown camera {name!r}; this model has {names}") from None
    up_world_z = data.cam_xmat[cam_id].reshape(3, 3)[2, 1]
    return PinholeCamera(height, width, float(model.cam_fovy[cam_id]), rotate_180=bool(up_world_z < 0))


class GroundTruthTracker:
    """Exact tracks of the paper's grid for one camera, built while the simulation runs.

    Call ``observe(data)`` once per recorded frame, after physics, then ``tracks()``.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        camera_name: str,
        camera: PinholeCamera,
        grid_size: int = GRID_SIZE,
        horizon: int = HORIZON,
        occlusion_tolerance_m: float = 2e-3,
    ) -> None:
        self.model = model
        self._ray_model = ray_model(model)
        self.camera = camera
        self.horizon = horizon
        self.occlusion_tolerance_m = occlusion_tolerance_m
        self._cam_id = model.camera(camera_name).id
        self._grid = grid_queries(grid_size)
        self._grid_pixels = to_pixels(self._grid, camera.height, camera.width)
        self._windows: list[_Window] = []
        self._frames = 0

    def reset(self) -> None:
        """Forget every frame: the next ``observe`` starts a new episode."""
        self._windows = []
        self._frames = 0

    @property
    def num_frames(self) -> int:
        return self._frames

    def observe(self, data: mujoco.MjData, open_window: bool = True) -> None:
        """``open_window=False``: only follow the windows already open (a caller that needs the
        first window alone saves the ray casts of the others)."""
        cam_pos = data.cam_xpos[self._cam_id].copy()
        cam_mat = data.cam_xmat[self._cam_id].reshape(3, 3).copy()
        live = [w for w in self._windows if self._frames - w.start < self.horizon]
        if live:
            self._advance(live, data, cam_pos, cam_mat)
        if open_window:
            self._windows.append(self._open_window(data, cam_pos, cam_mat))
        self._frames += 1

    def tracks(self) -> tuple[np.ndarray, np.ndarray]:
        """(T, horizon, N, 2) float32 normalised (row, col) and (T, horizon, N) bool visibility."""
        last = self._frames - 1
        pixels = np.stack([w.pixels for w in self._windows])
        visible = np.stack([w.visible for w in self._windows])
        for i, w in enumerate(self._windows):
            seen = min(last - w.start + 1, self.horizon)  # steps that saw a real frame
            pixels[i, seen:] = pixels[i, seen - 1]
            visible[i, seen:] = visible[i, seen - 1]
        points = to_normalised(pixels, self.camera.height, self.camera.width)
        points[:, 0] = self._grid  # step 0 is the paper's grid exactly, not its re-projection
        return points.astype(np.float32), visible

    def start_bodies(self) -> np.ndarray:
        """(T, N) id of the body each window's grid point landed on; -1 for background."""
        return np.stack([w.body for w in self._windows])

    def _cast(self, data: mujoco.MjData, origin: np.ndarray, vecs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rays origin + x * vec: (distance x in units of |vec|, -1 for no hit; geom id)."""
        n = len(vecs)
        geom = np.empty(n, dtype=np.int32)
        dist = np.empty(n, dtype=np.float64)
        if n:
            vec = np.ascontiguousarray(vecs, dtype=np.float64).ravel()
            mujoco.mj_multiRay(
                self._ray_model, data, origin, vec, RENDERED_GEOM_GROUPS, 1, -1, geom, dist, n, _RAY_CUTOFF_M
            )
        return dist, geom

    def _open_window(self, data: mujoco.MjData, cam_pos: np.ndarray, cam_mat: np.ndarray) -> _Window:
        dirs = self.camera.ray_directions(self._grid_pixels, cam_mat)
        dist, geom = self._cast(data, cam_pos, dirs)
        hit = dist >= 0
        body = np.where(hit, self.model.geom_bodyid[np.maximum(geom, 0)], -1)
        world = cam_pos + dist[:, None] * dirs
        local = dirs / np.linalg.norm(dirs, axis=-1, keepdims=True)
        b = body[hit]
        local[hit] = np.einsum("nji,nj->ni", data.xmat[b].reshape(-1, 3, 3), world[hit] - data.xpos[b])
        n = len(self._grid)
        pixels = np.zeros((self.horizon, n, 2))
        visible = np.zeros((self.horizon, n), dtype=bool)
        pixels[0] = self._grid_pixels
        visible[0] = True
        return _Window(self._frames, body, local, pixels, visible)

    def _advance(self, live: list[_Window], data: mujoco.MjData, cam_pos: np.ndarray, cam_mat: np.ndarray) -> None:
        body = np.stack([w.body for w in live])  # (W, N)
        local = np.stack([w.local for w in live])  # (W, N, 3)
        on_body = body >= 0
        b = body[on_body]
        world = np.einsum("mij,mj->mi", data.xmat[b].reshape(-1, 3, 3), local[on_body]) + data.xpos[b]

        pixels = np.empty(body.shape + (2,))
        depth = np.empty(body.shape)
        pixels[on_body], depth[on_body] = self.camera.project(world, cam_pos, cam_mat)
        pixels[~on_body], depth[~on_body] = self.camera.project_directions(local[~on_body], cam_mat)

        h, w_ = self.camera.height, self.camera.width
        visible = (
            (depth > 0) & (pixels[..., 0] >= 0) & (pixels[..., 0] < h) & (pixels[..., 1] >= 0) & (pixels[..., 1] < w_)
        )
        # Rays towards the candidates: a body point is hidden when something is hit clearly
        # before it; a background direction is hidden when anything is hit at all.
        vecs = np.empty(body.shape + (3,))
        vecs[on_body] = world - cam_pos
        vecs[~on_body] = local[~on_body]
        dist, _ = self._cast(data, cam_pos, vecs[visible])
        length = np.linalg.norm(vecs[visible], axis=-1)
        gap_m = (1 - dist) * length
        blocked = np.where(on_body[visible], (dist >= 0) & (gap_m > self.occlusion_tolerance_m), dist >= 0)
        visible[visible] = ~blocked

        for i, win in enumerate(live):
            step = self._frames - win.start
            win.pixels[step] = pixels[i]
            win.visible[step] = visible[i]
