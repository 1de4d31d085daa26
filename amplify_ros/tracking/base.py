"""The one interface every point tracker offers: windows of the paper's grid, streamed or batched.

Window t is the fresh grid of frame t followed for ``horizon`` frames (docs/dataset.md). A
tracker is fed frames one at a time (``push``) and returns each window as soon as it is
complete, i.e. when frame t + horizon - 1 has arrived; ``finish`` ends the video and completes
the windows still open by repeating the last frame. ``track_video`` is nothing but ``push`` on
every frame plus ``finish``, so dataset preprocessing and the streaming ROS node run the same
code and produce the same layout as the simulator's ground truth.

Pixel conventions differ between libraries: ours are continuous (pixel k covers [k, k+1), its
centre is k + 0.5); OpenCV and CoTracker put pixel centres on integers and use (x, y) order.
``to_xy`` / ``from_xy`` convert between the two.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from amplify_ros.core.tracks import GRID_SIZE, HORIZON, grid_queries, to_normalised, to_pixels
from amplify_ros.data.episode import Tracks


@dataclass
class TrackWindow:
    """Window ``start``: ``points`` (horizon, N, 2) float32 normalised (row, col), ``visible``
    (horizon, N) bool. Step 0 is the grid itself."""

    start: int
    points: np.ndarray
    visible: np.ndarray


def to_xy(pixels: np.ndarray) -> np.ndarray:
    """Our continuous pixel (row, col) -> (x, y) with pixel centres on integers (OpenCV, CoTracker)."""
    return np.asarray(pixels)[..., ::-1] - 0.5


def from_xy(xy: np.ndarray) -> np.ndarray:
    """(x, y) with pixel centres on integers -> our continuous pixel (row, col)."""
    return np.asarray(xy, dtype=np.float64)[..., ::-1] + 0.5


class PointTracker(ABC):
    """Streaming tracker of the paper's fresh grid: ``push`` frames, collect completed windows.

    Frames are (H, W, 3) uint8 RGB, all of one size. Subclasses implement ``_push`` (advance
    with one more frame, return the windows it completed) and ``_finish`` (complete the windows
    still open); the book-keeping and the output layout live here.
    """

    source: ClassVar[str]

    def __init__(self, grid_size: int = GRID_SIZE, horizon: int = HORIZON) -> None:
        if grid_size < 1 or horizon < 1:
            raise ValueError(f"grid_size and horizon must be >= 1, got {grid_size}, {horizon}")
        self.grid_size = grid_size
        self.horizon = horizon
        self.grid = grid_queries(grid_size)  # (N, 2) float64 normalised (row, col)
        self.frames_seen = 0
        self.image_size: tuple[int, int] | None = None

    def push(self, frame: np.ndarray) -> list[TrackWindow]:
        """Add the next frame; returns the windows it completed (oldest first)."""
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"frames must be (H, W, 3) uint8 RGB, got {frame.shape} {frame.dtype}")
        if self.image_size is None:
            self.image_size = frame.shape[:2]
        elif frame.shape[:2] != self.image_size:
            raise ValueError(f"frame size changed from {self.image_size} to {frame.shape[:2]} within one video")
        windows = self._push(frame)
        self.frames_seen += 1
        return windows

    def finish(self) -> list[TrackWindow]:
        """End the video: the open windows, completed by repeating the last frame. Then reset,
        ready for the next video."""
        windows = self._finish() if self.frames_seen else []
        self.reset()
        return windows

    def reset(self) -> None:
        """Forget the current video."""
        self.frames_seen = 0
        self.image_size = None
        self._reset()

    def grid_pixels(self) -> np.ndarray:
        """(N, 2) grid as continuous pixel (row, col) of the current video."""
        return to_pixels(self.grid, *self.image_size)

    def make_window(self, start: int, pixels: np.ndarray, visible: np.ndarray, seen: int) -> TrackWindow:
        """A window in the dataset's layout from ``seen`` tracked steps of pixel (row, col).

        Steps from ``seen`` on ran past the end of the video: they repeat step ``seen - 1``.
        Step 0 is the grid exactly (not a round trip through pixels) and visible.
        """
        points = to_normalised(pixels[: self.horizon], *self.image_size).astype(np.float32)
        vis = np.array(visible[: self.horizon], dtype=bool)
        points[seen:] = points[seen - 1]
        vis[seen:] = vis[seen - 1]
        points[0] = self.grid
        vis[0] = True
        return TrackWindow(start, points, vis)

    @abstractmethod
    def _push(self, frame: np.ndarray) -> list[TrackWindow]: ...

    @abstractmethod
    def _finish(self) -> list[TrackWindow]: ...

    @abstractmethod
    def _reset(self) -> None: ...


def collect(windows: Iterable[TrackWindow], num_frames: int, source: str) -> Tracks:
    """Stack windows 0..num_frames-1 into the dataset's ``Tracks``; each must appear once."""
    by_start = {w.start: w for w in windows}
    if sorted(by_start) != list(range(num_frames)):
        missing = sorted(set(range(num_frames)) - set(by_start))
        raise RuntimeError(f"tracker returned windows {sorted(by_start)[:5]}..., missing {missing[:5]}")
    points = np.stack([by_start[t].points for t in range(num_frames)])
    visible = np.stack([by_start[t].visible for t in range(num_frames)])
    return Tracks(points, visible, source)


def track_video(tracker: PointTracker, frames: Iterable[np.ndarray]) -> Tracks:
    """Track a whole video (an array (T, H, W, 3) or any iterable of frames) in one go."""
    tracker.reset()
    windows: list[TrackWindow] = []
    for frame in frames:
        windows += tracker.push(frame)
    count = tracker.frames_seen
    if count == 0:
        raise ValueError("cannot track a video without frames")
    windows += tracker.finish()
    return collect(windows, count, tracker.source)
