"""Measure a tracker against ground truth, and show where it fails.

Positions are scored where the ground truth sees the point, after the query (step 0 is the
grid itself for every backend and would only inflate the scores); visibility is scored at
every step after the query. "Moving" points are tracks whose true position gets more than
``moving_px`` away from where they started at some step of the window (the definition the
track-prediction benchmark uses too, ``core/metrics.moving_tracks``): on Meta-World most of the
grid is static scenery, which any tracker gets right by standing still, so the moving subset
is reported apart.
"""

from __future__ import annotations

import cv2
import numpy as np

from amplify_ros.core.metrics import delta_avg, moving_tracks, occlusion_accuracy, track_metrics
from amplify_ros.core.tracks import to_pixels
from amplify_ros.data.episode import Tracks


def after_query(visible: np.ndarray) -> np.ndarray:
    """(..., horizon, N) mask of the steps after the query."""
    mask = np.ones(visible.shape, bool)
    mask[..., 0, :] = False
    return mask


def true_motion_px(gt: Tracks, size: tuple[int, int]) -> np.ndarray:
    """(T, horizon, N) distance in pixels of each true position from the window's grid point."""
    scale = np.array(size, dtype=np.float64) / 2
    return np.linalg.norm((gt.points - gt.points[:, :1]) * scale, axis=-1)


def compare(pred: Tracks, gt: Tracks, size: tuple[int, int], moving_px: float = 1.0) -> dict[str, float]:
    """The paper's and TAP-Vid's metrics of ``pred`` against ``gt`` (same layout), as floats."""
    if pred.points.shape != gt.points.shape:
        raise ValueError(f"prediction {pred.points.shape} and ground truth {gt.points.shape} differ in layout")
    later = after_query(gt.visible)
    scored = gt.visible & later
    moving = scored & moving_tracks(gt.points, size, moving_px)[:, None, :]
    out = track_metrics(pred.points, gt.points, size, scored)
    out["occlusion_acc"] = occlusion_accuracy(pred.visible, gt.visible, later)
    out["delta_avg_moving"] = delta_avg(pred.points, gt.points, size, moving)
    out["moving_fraction"] = float(moving.sum() / max(scored.sum(), 1))
    return out


def _error_color(err_px: float, worst_px: float = 8.0) -> tuple[int, int, int]:
    """Green (exact) through yellow to red (``worst_px`` or more), as RGB."""
    hue = int(round(60 * (1 - min(err_px / worst_px, 1.0))))  # OpenCV hue: 60 green, 0 red
    rgb = cv2.cvtColor(np.array([[[hue, 255, 255]]], np.uint8), cv2.COLOR_HSV2RGB)[0, 0]
    return tuple(int(c) for c in rgb)


def error_overlay(
    image: np.ndarray,
    pred_points: np.ndarray,
    pred_visible: np.ndarray,
    gt_points: np.ndarray,
    gt_visible: np.ndarray,
    scale: int = 3,
) -> np.ndarray:
    """One window over its first frame, upscaled: true paths in thin white, predicted paths
    coloured by the point's mean error (green < 1 px ... red >= 8 px), a black ring where the
    tracker declared the point lost. Points neither moving nor wrong are left out.

    image (H, W, 3) uint8 RGB; points (horizon, N, 2) normalised (row, col); visible (horizon, N).
    """
    h, w = image.shape[:2]
    canvas = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_NEAREST)
    canvas = (canvas * 0.6).astype(np.uint8)  # dimmed, so that the tracks stand out
    pred_px = to_pixels(pred_points, h, w)
    gt_px = to_pixels(gt_points, h, w)
    err = np.linalg.norm(pred_px - gt_px, axis=-1)  # (horizon, N)
    seen = gt_visible.copy()
    seen[0] = False
    moved = np.linalg.norm(gt_px - gt_px[:1], axis=-1).max(axis=0)
    mean_err = np.where(seen.any(axis=0), (err * seen).sum(axis=0) / np.maximum(seen.sum(axis=0), 1), 0.0)

    def xy(px: np.ndarray) -> np.ndarray:
        return np.round(px[..., ::-1] * scale).astype(np.int32)

    for n in np.argsort(mean_err):  # worst drawn last, on top
        if moved[n] < 1.0 and mean_err[n] < 1.0:
            continue
        cv2.polylines(canvas, [xy(gt_px[:, n])], False, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.polylines(canvas, [xy(pred_px[:, n])], False, _error_color(mean_err[n]), 1, cv2.LINE_AA)
        cv2.circle(canvas, tuple(xy(pred_px[-1, n])), 2, _error_color(mean_err[n]), -1, cv2.LINE_AA)
        lost = np.flatnonzero(~pred_visible[:, n])
        if len(lost):
            cv2.circle(canvas, tuple(xy(pred_px[lost[0], n])), 3, (0, 0, 0), 1, cv2.LINE_AA)
    return canvas
