"""Track geometry shared by every layer: the paper's query grid and coordinate conventions.

Conventions (docs/dataset.md):
  * a point is ``(row, col)``, normalised so that the image spans [-1, 1] on each axis:
    ``pixel = (p + 1) * size / 2`` with continuous pixel coordinates (pixel k covers [k, k+1));
  * the grid is the paper's ``linspace(-1 + 1/n, 1 - 1/n, n)`` on both axes, row-major:
    point ``k`` sits at grid row ``k // n`` and grid column ``k % n``;
  * a track window started at frame t holds that grid followed for ``horizon`` frames
    (step 0 is frame t itself).
"""

from __future__ import annotations

import cv2
import numpy as np

GRID_SIZE = 20
HORIZON = 16
IMAGE_SIZE = 128  # square side (px) of images by default: rendered, imported, tracked and fed to the models


def grid_coords(n: int = GRID_SIZE) -> np.ndarray:
    """The n grid values along one axis, padded half a cell away from the border."""
    return np.linspace(-1 + 1 / n, 1 - 1 / n, n)


def grid_queries(n: int = GRID_SIZE) -> np.ndarray:
    """(n*n, 2) float64 grid points as normalised (row, col), row-major."""
    rows, cols = np.meshgrid(grid_coords(n), grid_coords(n), indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], axis=-1)


def to_pixels(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normalised (row, col) -> continuous pixel (row, col)."""
    scale = np.array([height, width], dtype=np.float64) / 2
    return (np.asarray(points, dtype=np.float64) + 1) * scale


def to_normalised(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Continuous pixel (row, col) -> normalised (row, col)."""
    scale = np.array([height, width], dtype=np.float64) / 2
    return np.asarray(pixels, dtype=np.float64) / scale - 1


def centre_square(height: int, width: int) -> tuple[int, int, int]:
    """(top, left, side) of the largest centred square: the crop every camera image gets."""
    side = min(height, width)
    return (height - side) // 2, (width - side) // 2, side


def square_to_source_xy(points: np.ndarray, height: int, width: int) -> np.ndarray:
    """Normalised (row, col) in the centre-square crop -> pixel (x, y) in the full source image."""
    top, left, side = centre_square(height, width)
    rc = to_pixels(points, side, side) + np.array([top, left], dtype=np.float64)
    return rc[..., ::-1]


def square(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to the largest square, resize to ``size`` x ``size`` (what the models see)."""
    top, left, side = centre_square(*image.shape[:2])
    crop = image[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(crop)
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR)
