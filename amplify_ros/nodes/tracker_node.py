"""tracker_node: camera frames -> observed keypoint tracks of the paper's 20 x 20 grid.

Frames are centre-cropped and resized to ``image_size`` (what the models see, and what the
datasets were tracked at) and pushed into a streaming tracker backend (tracking/); each
window of ``horizon`` frames is published as soon as it is complete, stamped with the header
of its first frame, in source-image pixels (docs/interfaces.md). A stamp that jumps back (a
bag looping, a simulator reset) or a change of frame size starts the tracker afresh: windows
still open then are dropped, not padded. A frame with the same stamp as the previous one (a
republished frame) is skipped, since it would add a step without motion.
"""

from __future__ import annotations

import time

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from amplify_ros.core.tracks import IMAGE_SIZE, square
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.model_io import FrameGate, TrackPublisher, declare_image_qos
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.stamps import stamp_seconds
from amplify_ros.tracking import FRAME_BACKENDS, PointTracker, TrackerSpec


class TrackerNode(Node):
    """Subscribes camera/image_raw; publishes amplify/tracks (+ /overlay)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_tracker", **kwargs)
        self.health = Health()
        self.gate = FrameGate(self, self.health)
        p = LiveParameters(self)
        spec = TrackerSpec(
            backend=p.declare(
                "backend",
                "lk",
                "tracker: 'lk' (OpenCV Lucas-Kanade, no weights) or 'cotracker' "
                "(needs cotracker_repo and cotracker_checkpoint)",
                choices=FRAME_BACKENDS,
            ),
            cotracker_repo=p.declare(
                "cotracker_repo", "", "cotracker: local checkout of github.com/facebookresearch/co-tracker"
            )
            or None,
            cotracker_checkpoint=p.declare("cotracker_checkpoint", "", "cotracker: local checkpoint file (.pth)")
            or None,
            cotracker_model=p.declare(
                "cotracker_model",
                "cotracker3_offline",
                "cotracker: hubconf entry point matching the checkpoint (cotracker3_offline, cotracker2, cotracker2v1)",
            ),
            device=p.declare("device", "cpu", "cotracker: torch device", choices=("cpu", "cuda")),
            batch_size=p.declare(
                "cotracker_batch",
                1,
                "cotracker: windows per forward pass (1: each window is published as soon as it is complete)",
                range=(1, 64),
            ),
        )
        self.image_size = p.declare(
            "image_size",
            IMAGE_SIZE,
            "side (px) of the centre square frames are resized to before "
            "tracking: the image size of the datasets and models",
            range=(16, 1024),
        )
        self.max_stamp_ahead = p.declare(
            "max_stamp_ahead",
            1.0,
            "frames stamped further than this (s) after the "
            "node's clock are refused: another clock, or a corrupted header",
            range=(0.0, 3600.0),
            apply=p.setter("max_stamp_ahead"),
        )
        self.tracker = self._build(spec)
        self._frames: dict[
            int, tuple[Header, np.ndarray]
        ] = {}  # frame index -> header, square frame; until its window is out
        self._last: tuple[float, tuple[int, int]] | None = None  # stamp and source (H, W) of the last frame tracked
        self.create_subscription(Image, "camera/image_raw", self.on_image, declare_image_qos(p))
        self.tracks_out = TrackPublisher(self, "amplify/tracks")
        self.diagnostics = DiagnosticsReporter(self, self.health)

    def _build(self, spec: TrackerSpec) -> PointTracker | None:
        """The backend, or None with the reason on /diagnostics and in the log (CoTracker's
        message says which file is missing and where to get it)."""
        try:
            tracker = spec.build()
        except (RuntimeError, ValueError, OSError) as err:  # CoTrackerUnavailable is a RuntimeError
            self.health.error = f"cannot start the {spec.backend} tracker: {err}"
            self.get_logger().error(self.health.error)
            return None
        self.health.status = "running"
        self.get_logger().info(
            f"tracking with {spec.backend}: {tracker.grid_size}x{tracker.grid_size} grid, "
            f"windows of {tracker.horizon} frames at {self.image_size} px"
        )
        return tracker

    def _restart_reason(self, stamp: float, hw: tuple[int, int]) -> str:
        if self._last is None:
            return ""
        last_stamp, last_hw = self._last
        if hw != last_hw:
            return f"frame size changed from {last_hw[1]}x{last_hw[0]} to {hw[1]}x{hw[0]}"
        if stamp < last_stamp:
            return f"stamp jumped back by {last_stamp - stamp:.3f} s"
        return ""

    def on_image(self, msg: Image) -> None:
        start = time.perf_counter()
        if self.tracker is None:
            self.health.drop("no_tracker")
            return
        rgb = self.gate.colour(msg) if self.gate.stamp(msg, self.max_stamp_ahead) else None
        if rgb is None:
            return
        stamp, hw = stamp_seconds(msg.header), rgb.shape[:2]
        if self._last is not None and stamp == self._last[0]:
            self.gate.refuse("duplicate", f"frame stamped {stamp:.3f} s again: skipped")
            return
        reason = self._restart_reason(stamp, hw)
        if reason:
            self.get_logger().warning(f"{reason}: restarting the tracker ({len(self._frames)} open windows dropped)")
            self.tracker.reset()
            self._frames.clear()
        self._last = (stamp, hw)
        frame = square(rgb, self.image_size)
        self._frames[self.tracker.frames_seen] = (msg.header, frame)
        for window in self.tracker.push(frame):
            header, first = self._frames[window.start]
            self.tracks_out.publish(header, window.points, window.visible, hw, first)
            self._frames = {i: f for i, f in self._frames.items() if i > window.start}
        self.health.ok((time.perf_counter() - start) * 1e3)


def main(args: list[str] | None = None) -> None:
    run_node(TrackerNode, args)


if __name__ == "__main__":
    main()
