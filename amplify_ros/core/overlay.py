"""Draw point tracks over images, for people: track-overlay frames, strips and videos."""

from __future__ import annotations

import cv2
import numpy as np

from amplify_ros.core.tracks import to_pixels


def point_colors(n: int) -> np.ndarray:
    """(n, 3) uint8 RGB colours: hue runs along the grid so neighbouring tracks are told apart."""
    side = max(int(round(np.sqrt(n))), 1)
    idx = np.arange(n)
    hue = (idx % side) * 170 // side  # OpenCV hue range is 0..179; stop short of wrapping to red
    val = 255 - (idx // side) * 100 // side
    hsv = np.stack([hue, np.full(n, 230), val], axis=-1).astype(np.uint8)[None]
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0]


def draw_tracks(
    image: np.ndarray,
    points: np.ndarray,
    visible: np.ndarray,
    scale: int = 4,
    min_motion_px: float = 0.5,
) -> np.ndarray:
    """One window of tracks over its first frame, upscaled by ``scale``.

    image (H, W, 3) uint8 RGB; points (S, N, 2) normalised (row, col); visible (S, N).
    A moving point is drawn as its path (visible steps only) ending in a dot; a point that
    moves less than ``min_motion_px`` is a small dot, so static scenery stays readable.
    """
    h, w = image.shape[:2]
    canvas = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
    xy = to_pixels(points, h, w)[..., ::-1] * scale  # (S, N, 2) as (x, y) for OpenCV
    colors = point_colors(points.shape[1])
    motion = np.abs(xy - xy[:1]).max(axis=(0, 2)) / scale  # (N,) largest displacement in px
    for n in np.argsort(motion):  # moving tracks drawn last, on top
        color = tuple(int(c) for c in colors[n])
        path = np.round(xy[:, n]).astype(np.int32)
        if motion[n] < min_motion_px:
            cv2.circle(canvas, tuple(path[0]), 1, color, -1, cv2.LINE_AA)
            continue
        for s in range(1, len(path)):
            if visible[s - 1, n] and visible[s, n]:
                cv2.line(canvas, tuple(path[s - 1]), tuple(path[s]), color, 1, cv2.LINE_AA)
        last = int(np.flatnonzero(visible[:, n])[-1])
        cv2.circle(canvas, tuple(path[last]), 2, color, -1, cv2.LINE_AA)
    return canvas


def label(image: np.ndarray, text: str) -> np.ndarray:
    """Write ``text`` in the top-left corner (white on a dark box)."""
    out = image.copy()
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
    cv2.rectangle(out, (0, 0), (tw + 6, th + base + 6), (0, 0, 0), -1)
    cv2.putText(out, text, (3, th + 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def draw_prediction(
    image: np.ndarray, pred: np.ndarray, truth: np.ndarray, scale: int = 4, min_motion_px: float = 0.5
) -> np.ndarray:
    """Predicted tracks (colour) over the true ones (white), for points that move in either.

    pred, truth (S, N, 2) normalised (row, col).
    """
    h, w = image.shape[:2]
    canvas = cv2.resize(image, (w * scale, h * scale), interpolation=cv2.INTER_LINEAR)
    colors = point_colors(pred.shape[1])
    for n in range(pred.shape[1]):
        paths = [np.round(to_pixels(tr[:, n], h, w)[:, ::-1] * scale).astype(np.int32) for tr in (truth, pred)]
        if max(np.abs(p - p[0]).max() for p in paths) < min_motion_px * scale:
            continue
        cv2.polylines(canvas, [paths[0].reshape(-1, 1, 2)], False, (255, 255, 255), 1, cv2.LINE_AA)
        cv2.polylines(canvas, [paths[1].reshape(-1, 1, 2)], False, tuple(int(c) for c in colors[n]), 1, cv2.LINE_AA)
        cv2.circle(canvas, tuple(paths[1][-1]), 2, tuple(int(c) for c in colors[n]), -1, cv2.LINE_AA)
    return canvas
