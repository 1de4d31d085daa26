"""Track metrics: the paper's (MSE, pixel accuracy, delta-AUC) and TAP-Vid's (delta_avg, occlusion).

Inputs are normalised (row, col) points (..., 2) as in docs/dataset.md and an optional boolean
``mask`` (...) choosing which points count (e.g. visible ground truth, steps after the query).
Pixel thresholds use the image size, row errors scaled by H/2 and column errors by W/2.

- ``mse``: mean squared error of normalised coordinates, over both coordinates.
- ``pixel_accuracy``: fraction of coordinate *elements* within half a pixel (the paper's code
  counts rows and columns separately).
- ``delta_auc``: mean over thresholds 1..10 px of the fraction of coordinate elements within the
  threshold (again per element, as the paper's code does).
- ``delta_avg``: TAP-Vid's mean over 1, 2, 4, 8, 16 px of the fraction of *points* whose
  Euclidean error is within the threshold (here at native resolution, not rescaled to 256 px).
- ``occlusion_accuracy``: fraction of points whose predicted visibility equals the truth.

A *moving* point (``moving_tracks``), in the tracking and the track-prediction benchmarks
alike, is a track whose true position at some step of its window is more than ``MOVING_PX``
(Euclidean) from where it started; all steps of such a track are scored.
"""

from __future__ import annotations

import numpy as np

PAPER_AUC_THRESHOLDS_PX = tuple(range(1, 11))
TAPVID_THRESHOLDS_PX = (1, 2, 4, 8, 16)
MOVING_PX = 1.0


def _pixel_errors(pred: np.ndarray, gt: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    scale = np.array(size, dtype=np.float64) / 2
    return np.abs(np.asarray(pred, np.float64) - np.asarray(gt, np.float64)) * scale


def _masked(values: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The points chosen by ``mask`` (over the leading axes); all of them without one."""
    return values if mask is None else values[np.asarray(mask, bool)]


def mse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> float:
    diff = _masked(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), mask)
    return float(np.mean(diff**2)) if diff.size else float("nan")


def pixel_accuracy(pred: np.ndarray, gt: np.ndarray, size: tuple[int, int], mask: np.ndarray | None = None) -> float:
    err = _masked(_pixel_errors(pred, gt, size), mask)
    return float(np.mean(err < 0.5)) if err.size else float("nan")


def delta_auc(pred: np.ndarray, gt: np.ndarray, size: tuple[int, int], mask: np.ndarray | None = None) -> float:
    err = _masked(_pixel_errors(pred, gt, size), mask)
    if not err.size:
        return float("nan")
    return float(np.mean([np.mean(err < t) for t in PAPER_AUC_THRESHOLDS_PX]))


def delta_avg(pred: np.ndarray, gt: np.ndarray, size: tuple[int, int], mask: np.ndarray | None = None) -> float:
    dist = _masked(np.linalg.norm(_pixel_errors(pred, gt, size), axis=-1), mask)
    if not dist.size:
        return float("nan")
    return float(np.mean([np.mean(dist < t) for t in TAPVID_THRESHOLDS_PX]))


def occlusion_accuracy(pred_visible: np.ndarray, gt_visible: np.ndarray, mask: np.ndarray | None = None) -> float:
    same = np.asarray(pred_visible, bool) == np.asarray(gt_visible, bool)
    same = same[np.asarray(mask, bool)] if mask is not None else same.ravel()
    return float(np.mean(same)) if same.size else float("nan")


def track_metrics(
    pred: np.ndarray, gt: np.ndarray, size: tuple[int, int], mask: np.ndarray | None = None
) -> dict[str, float]:
    """All position metrics at once, as plain floats."""
    return {
        "mse": mse(pred, gt, mask),
        "pixel_acc": pixel_accuracy(pred, gt, size, mask),
        "delta_auc": delta_auc(pred, gt, size, mask),
        "delta_avg": delta_avg(pred, gt, size, mask),
    }


def moving_tracks(points: np.ndarray, size: tuple[int, int], px: float = MOVING_PX) -> np.ndarray:
    """points (..., S, N, 2) true tracks -> (..., N) True where the track gets more than ``px``
    pixels from its start within the window."""
    scale = np.array(size, dtype=np.float64) / 2
    travel = np.linalg.norm(
        (np.asarray(points, np.float64) - np.asarray(points, np.float64)[..., :1, :, :]) * scale, axis=-1
    )
    return travel.max(axis=-2) > px
