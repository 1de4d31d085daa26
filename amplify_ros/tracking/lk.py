"""OpenCV pyramidal Lucas-Kanade: the default tracker, no weights, real time on one core.

Each new frame moves the followed points of all open windows together (up to ``horizon``
windows of N points: 6,400 at the paper's sizes) from the previous frame in one OpenCV call,
then tracks the results back (forward-backward check). Per point and frame:

* textured patch, back-tracked to within ``fb_threshold_px`` of where it started: moved;
  visible while inside the image;
* textured patch that fails the check (occluded, or LK locked onto something else): lost for
  the rest of its window: invisible, left where it was last seen;
* a point whose estimate leaves the image: lost; kept where LK put it (outside [-1, 1]) when
  the estimate passed the check, else where it was last seen;
* patch without texture (OpenCV's minimum-eigenvalue test fails: flat walls and table tops):
  no evidence of motion, so it stays put, stays visible and is tried again next frame.

Points whose matching window hangs over the image border (the grid's outer ring at 128 px)
are less accurate: OpenCV fills the outside by repeating edge pixels, which do not move.

Settings were tuned on held-out Meta-World episodes at 128 px (benchmarks/tracking.py, README):
smaller windows than OpenCV's default follow thin moving parts better and cost less.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from amplify_ros.core.tracks import GRID_SIZE, HORIZON
from amplify_ros.tracking.base import PointTracker, TrackWindow, from_xy, to_xy


@dataclass(frozen=True)
class LKConfig:
    win_size: int = 9  # side of the matching window, pixels (odd)
    levels: int = 2  # pyramid levels above the full image (per-frame motion is a few pixels)
    fb_threshold_px: float = 1.0  # forward-backward disagreement that marks a point lost
    iterations: int = 20
    epsilon: float = 0.01  # px: stop iterating when an update is this small
    min_eigenvalue: float = 1e-4  # OpenCV's texture test (per window pixel); below it: flat

    def __post_init__(self) -> None:
        if self.win_size < 3 or self.win_size % 2 == 0:
            raise ValueError(f"win_size must be odd and >= 3, got {self.win_size}")
        if self.levels < 0:
            raise ValueError(f"levels must be >= 0, got {self.levels}")
        if not self.fb_threshold_px > 0:
            raise ValueError(f"fb_threshold_px must be > 0, got {self.fb_threshold_px}")
        if self.iterations < 1 or not self.epsilon > 0 or not self.min_eigenvalue > 0:
            raise ValueError("iterations must be >= 1; epsilon and min_eigenvalue > 0")


class _OpenWindow:
    """A window being tracked: OpenCV (x, y) per step, visibility, and the points still followed."""

    def __init__(self, start: int, xy: np.ndarray, horizon: int) -> None:
        self.start = start
        self.steps = 1
        self.xy = np.repeat(xy[None], horizon, axis=0)  # (horizon, N, 2)
        self.visible = np.zeros((horizon, len(xy)), bool)
        self.visible[0] = True
        self.followed = np.ones(len(xy), bool)

    def add_step(self, xy: np.ndarray, visible: np.ndarray) -> None:
        self.xy[self.steps] = xy
        self.visible[self.steps] = visible
        self.steps += 1


class LKTracker(PointTracker):
    source = "lk"

    def __init__(self, config: LKConfig | None = None, grid_size: int = GRID_SIZE, horizon: int = HORIZON) -> None:
        super().__init__(grid_size, horizon)
        self.config = c = config or LKConfig()
        self._lk_args = dict(
            winSize=(c.win_size, c.win_size),
            maxLevel=c.levels,
            criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, c.iterations, c.epsilon),
            minEigThreshold=c.min_eigenvalue,
        )
        self._reset()

    def _reset(self) -> None:
        self._open: list[_OpenWindow] = []
        self._prev: np.ndarray | None = None

    def _push(self, frame: np.ndarray) -> list[TrackWindow]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self._open:
            self._advance(gray)
        self._prev = gray
        self._open.append(_OpenWindow(self.frames_seen, to_xy(self.grid_pixels()), self.horizon))
        done = [w for w in self._open if w.steps == self.horizon]
        self._open = [w for w in self._open if w.steps < self.horizon]
        return [self._emit(w) for w in done]

    def _finish(self) -> list[TrackWindow]:
        return [self._emit(w) for w in self._open]

    def _emit(self, w: _OpenWindow) -> TrackWindow:
        return self.make_window(w.start, from_xy(w.xy), w.visible, w.steps)

    def _advance(self, gray: np.ndarray) -> None:
        """Move the followed points of every open window from the previous frame to ``gray``."""
        before = [w.xy[w.steps - 1] for w in self._open]
        # never empty: the window opened on the previous frame follows all its points
        followed = np.concatenate([xy[w.followed] for xy, w in zip(before, self._open)])
        new, textured, consistent = self._track(self._prev, gray, followed)
        h, w_ = self.image_size
        inside = (new[:, 0] >= -0.5) & (new[:, 0] < w_ - 0.5) & (new[:, 1] >= -0.5) & (new[:, 1] < h - 0.5)
        offset = 0
        for xy, win in zip(before, self._open):
            idx = np.flatnonzero(win.followed)
            part = slice(offset, offset + len(idx))
            offset += len(idx)
            moved = textured[part] & consistent[part]
            after = xy.copy()
            after[idx[moved]] = new[part][moved]
            win.followed[idx[(textured[part] & ~consistent[part]) | ~inside[part]]] = False
            win.add_step(after, win.followed.copy())

    def _track(
        self, prev_gray: np.ndarray, gray: np.ndarray, xy: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LK forward and back: (M, 2) new (x, y); (M,) textured; (M,) forward-backward consistent."""
        xy = xy.reshape(-1, 1, 2).astype(np.float32)
        new, status, _ = cv2.calcOpticalFlowPyrLK(prev_gray, gray, xy, None, **self._lk_args)
        back, status_back, _ = cv2.calcOpticalFlowPyrLK(gray, prev_gray, new, None, **self._lk_args)
        fb = np.linalg.norm((back - xy).reshape(-1, 2), axis=1)
        consistent = (status_back.ravel() == 1) & (fb < self.config.fb_threshold_px)
        return new.reshape(-1, 2), status.ravel() == 1, consistent
