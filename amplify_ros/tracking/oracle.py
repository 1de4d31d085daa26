"""The simulator's ground truth behind the tracker interface.

For simulated episodes the data engine already stored exact tracks (source ``oracle``); this
backend replays them frame by frame, so anything written against ``PointTracker`` (the ROS
tracker node, the benchmark) can run on ground truth. It reads episodes only: no simulator.
"""

from __future__ import annotations

import os

import numpy as np

from amplify_ros.data.episode import Tracks, read_episode
from amplify_ros.tracking.base import PointTracker, TrackWindow


class OracleTracker(PointTracker):
    source = "oracle"

    def __init__(self, tracks: Tracks) -> None:
        _, horizon, n, _ = tracks.points.shape
        grid_size = int(round(np.sqrt(n)))
        if grid_size * grid_size != n:
            raise ValueError(f"stored tracks have {n} points, not a square grid")
        super().__init__(grid_size, horizon)
        self.tracks = tracks

    @classmethod
    def from_episode(cls, path: str | os.PathLike, camera: str | None = None) -> OracleTracker:
        """The ground truth stored in episode ``path`` for ``camera`` (default: the first)."""
        ep = read_episode(path, images=False)
        camera = camera or ep.cameras[0]
        tracks = ep.tracks.get(camera)
        if tracks is None or tracks.source != "oracle":
            found = "no tracks" if tracks is None else f"tracks from {tracks.source!r}"
            raise ValueError(f"{path}: camera {camera!r} has {found}, not simulator ground truth")
        return cls(tracks)

    def _reset(self) -> None:
        pass

    def _push(self, frame: np.ndarray) -> list[TrackWindow]:
        if self.frames_seen >= len(self.tracks.points):
            raise ValueError(f"the stored ground truth covers {len(self.tracks.points)} frames; got more")
        start = self.frames_seen - self.horizon + 1
        return [self._window(start)] if start >= 0 else []

    def _finish(self) -> list[TrackWindow]:
        if self.frames_seen != len(self.tracks.points):
            raise ValueError(
                f"video ended after {self.frames_seen} frames; the ground truth has {len(self.tracks.points)}"
            )
        return [self._window(t) for t in range(max(self.frames_seen - self.horizon + 1, 0), self.frames_seen)]

    def _window(self, start: int) -> TrackWindow:
        return TrackWindow(start, self.tracks.points[start].copy(), self.tracks.visible[start].copy())
