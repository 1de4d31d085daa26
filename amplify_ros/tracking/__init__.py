"""Point-tracker backends behind one interface (``base.PointTracker``).

- ``lk``: OpenCV pyramidal Lucas-Kanade with a forward-backward check (default, no weights);
- ``cotracker``: CoTracker from a local checkout and checkpoint (``tracking.cotracker``);
- ``oracle``: the simulator's stored ground truth, replayed (``tracking.oracle``).

``make_tracker`` builds the frame-based backends by name; torch is imported only for CoTracker.
"""

from __future__ import annotations

from dataclasses import dataclass

from amplify_ros.tracking.base import PointTracker, TrackWindow, track_video

FRAME_BACKENDS = ("lk", "cotracker")

__all__ = ["FRAME_BACKENDS", "PointTracker", "TrackWindow", "TrackerSpec", "track_video"]


@dataclass(frozen=True)
class TrackerSpec:
    """Everything needed to build a tracker, small enough to send to worker processes."""

    backend: str = "lk"
    cotracker_repo: str | None = None
    cotracker_checkpoint: str | None = None
    cotracker_model: str = "cotracker3_offline"
    device: str = "cpu"
    batch_size: int = 8

    def build(self) -> PointTracker:
        if self.backend == "lk":
            from amplify_ros.tracking.lk import LKTracker

            return LKTracker()
        if self.backend == "cotracker":
            from amplify_ros.tracking.cotracker import CoTrackerTracker, load_cotracker

            predictor = load_cotracker(
                self.cotracker_repo, self.cotracker_checkpoint, self.cotracker_model, self.device
            )
            return CoTrackerTracker(predictor, self.batch_size, self.device)
        raise ValueError(f"unknown tracker backend {self.backend!r}; choose from {', '.join(FRAME_BACKENDS)}")
