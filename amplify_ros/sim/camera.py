"""Pinhole model of a MuJoCo camera, in the image convention of amplify_ros.

MuJoCo cameras look down their local -z axis with +y up. The stored image has row 0 at the top,
continuous pixel coordinates (pixel k covers [k, k+1)) and focal length (H/2) / tan(fovy/2).
``rotate_180`` describes a camera whose image is stored rotated by 180 degrees so that it is
upright (Meta-World's ``corner`` camera is mounted upside down); projections then return the
coordinates of the stored, rotated image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PinholeCamera:
    height: int
    width: int
    fovy_deg: float
    rotate_180: bool = False

    @property
    def focal(self) -> float:
        return (self.height / 2) / np.tan(np.deg2rad(self.fovy_deg) / 2)

    def intrinsics(self) -> np.ndarray:
        """3x3 K for (col, row) pixel coordinates of the stored image (OpenCV / CameraInfo)."""
        f = self.focal
        return np.array([[f, 0, self.width / 2], [0, f, self.height / 2], [0, 0, 1]])

    def project(self, points: np.ndarray, cam_pos: np.ndarray, cam_mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World points (..., 3) -> (pixel (row, col) (..., 2), depth along the view axis (...)).

        ``cam_mat`` is MuJoCo's 3x3 camera orientation (columns = camera axes in world).
        Points at or behind the camera get depth <= 0 and meaningless pixels.
        """
        return self._to_pixels((np.asarray(points) - cam_pos) @ cam_mat)

    def project_directions(self, dirs: np.ndarray, cam_mat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Like ``project`` for points infinitely far away along world directions ``dirs``."""
        return self._to_pixels(np.asarray(dirs) @ cam_mat)

    def ray_directions(self, pixels: np.ndarray, cam_mat: np.ndarray) -> np.ndarray:
        """Pixel (row, col) (..., 2) -> world directions (..., 3) with unit depth along the view axis."""
        row, col = np.moveaxis(np.asarray(pixels, dtype=np.float64), -1, 0)
        if self.rotate_180:
            row, col = self.height - row, self.width - col
        f = self.focal
        local = np.stack([(col - self.width / 2) / f, (self.height / 2 - row) / f, -np.ones_like(row)], axis=-1)
        return local @ cam_mat.T

    def _to_pixels(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        depth = -local[..., 2]
        safe = np.where(np.abs(depth) < 1e-12, 1e-12, depth)
        f = self.focal
        col = self.width / 2 + f * local[..., 0] / safe
        row = self.height / 2 - f * local[..., 1] / safe
        if self.rotate_180:
            row, col = self.height - row, self.width - col
        return np.stack([row, col], axis=-1), depth
