"""A camera that keeps streaming whatever happens to it, without ROS.

``Camera`` is what a device driver offers (read a frame, close); ``CameraDriver`` owns one and
turns failures into states instead of exceptions: no device, an unsupported mode, a device that
stops sending frames or raises (unplugged) all leave it "waiting for camera" with the reason,
and it tries again every ``reconnect_period`` seconds. A node runs ``CameraDriver.run`` on a
thread and publishes what it hands over; tests drive ``step`` with a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

WAITING = "waiting for camera"
RUNNING = "running"


class CameraError(RuntimeError):
    """A camera that cannot be opened as asked: none connected, wrong serial, unsupported mode."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics with the distortion already in ROS terms (sensor_msgs/CameraInfo)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    distortion_model: str  # plumb_bob, equidistant, ...
    d: tuple[float, ...]

    def k(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


@dataclass(frozen=True)
class Frames:
    """One capture: colour, and depth registered to it when asked for."""

    color: np.ndarray  # (H, W, 3) uint8 RGB
    depth: np.ndarray | None  # (H, W) uint16 millimetres, aligned to colour; 0 = no depth
    stamp_ns: int | None  # capture time on the host's system clock; None when the camera only has its own
    number: int  # the camera's frame counter
    intrinsics: Intrinsics  # of colour (and of the aligned depth)


class Camera(Protocol):
    description: str  # which device and mode, for logs

    def read(self, timeout: float) -> Frames | None:
        """The next frames, or None if none came within ``timeout`` s; raises RuntimeError if the device failed."""

    def close(self) -> None: ...


class CameraDriver:
    def __init__(
        self,
        connect: Callable[[], Camera],
        reconnect_period: float,
        frame_timeout: float,
        on_state: Callable[[str, str], None] = lambda status, error: None,
        clock: Callable[[], float] = time.monotonic,
        read_slice: float = 0.1,
    ) -> None:
        """``connect`` opens the camera or raises CameraError / RuntimeError saying why not;
        ``on_state(status, error)`` hears every change of state (called from the reading thread)."""
        self.connect = connect
        self.reconnect_period = reconnect_period
        self.frame_timeout = frame_timeout
        self.camera: Camera | None = None
        self.status, self.error = WAITING, ""
        self._on_state = on_state
        self._clock = clock
        self._read_slice = read_slice  # a blocking read never outlasts this, so run() stops promptly
        self._next_try = clock()
        self._last_frame = 0.0

    def step(self) -> Frames | None:
        """Connect if due, else read once; never raises for a camera's sake."""
        if self.camera is None:
            self._try_connect()
            return None
        try:
            frames = self.camera.read(min(self._read_slice, self.frame_timeout))
        except RuntimeError as err:  # librealsense reports a lost device this way
            self._lose(f"{self.camera.description} failed: {err}")
            return None
        now = self._clock()
        if frames is None:
            if now - self._last_frame > self.frame_timeout:
                self._lose(f"no frames from {self.camera.description} for {self.frame_timeout:g} s (unplugged?)")
            return None
        self._last_frame = now
        self._set(RUNNING, "")
        return frames

    def retry_in(self) -> float:
        """Seconds until the next connection attempt (0 while a camera is open)."""
        return 0.0 if self.camera is not None else max(0.0, self._next_try - self._clock())

    def run(self, stop: threading.Event, on_frames: Callable[[Frames], None]) -> None:
        """Step until ``stop`` is set, handing every capture to ``on_frames``; closes the camera at the end."""
        try:
            while not stop.is_set():
                frames = self.step()
                if frames is not None:
                    on_frames(frames)
                elif self.camera is None:
                    stop.wait(self.retry_in())
        finally:
            self.close()

    def close(self) -> None:
        if self.camera is not None:
            camera, self.camera = self.camera, None
            try:
                camera.close()
            except RuntimeError:  # an unplugged device cannot be stopped cleanly; it is gone anyway
                pass

    def _try_connect(self) -> None:
        now = self._clock()
        if now < self._next_try:
            return
        try:
            self.camera = self.connect()
        except RuntimeError as err:  # CameraError, or librealsense failing to open the device
            self._next_try = now + self.reconnect_period
            self._set(WAITING, str(err))
            return
        self._last_frame = self._clock()
        self._set(f"waiting for frames from {self.camera.description}", "")

    def _lose(self, reason: str) -> None:
        self.close()
        self._next_try = self._clock() + self.reconnect_period
        self._set(WAITING, reason)

    def _set(self, status: str, error: str) -> None:
        if (status, error) != (self.status, self.error):
            self.status, self.error = status, error
            self._on_state(status, error)
