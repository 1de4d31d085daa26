"""Intel RealSense colour (and depth aligned to it) as numpy, without ROS.

Streams are read through the device's sensors and an ``rs.syncer``, not ``rs.pipeline``: the
pipeline only takes the USB devices it finds itself, while sensors work the same for a camera, a
recording (``rs.context().load_device(file)``) and an ``rs.software_device``, which is how the
tests feed frames with known pixels, intrinsics and timestamps.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from typing import NamedTuple

import numpy as np

from amplify_ros.camera.stream import CameraError, Frames, Intrinsics

# The pyrealsense2 wheel carries its own Fast DDS, Fast CDR and rcutils. Loaded before ROS's copies,
# they crash the process at exit (a double free in static destructors); loaded after, all is well.
# So ROS goes first wherever it is installed, though nothing here uses it.
with suppress(ImportError):
    import rclpy  # noqa: F401

try:
    import pyrealsense2 as rs
except ImportError as err:  # the wheel links libusb, which pip cannot install
    raise ImportError(
        f"pyrealsense2 is needed for RealSense cameras ({err}): pip install -r requirements.txt, "
        "and on Debian/Ubuntu apt-get install libusb-1.0-0"
    ) from err

# librealsense gives at most 5 coefficients, k1 k2 p1 p2 k3 for the Brown-Conrady family: OpenCV's
# order, i.e. plumb_bob (rational_polynomial's 8 are never needed). Like realsense2_camera, the
# modified and inverse variants are published as plumb_bob too.
PLUMB_BOB = (rs.distortion.brown_conrady, rs.distortion.modified_brown_conrady, rs.distortion.inverse_brown_conrady)
# Timestamps on the host's clock (global time: the camera's clock mapped onto the host's).
HOST_CLOCK = (rs.timestamp_domain.system_time, rs.timestamp_domain.global_time)


class Mode(NamedTuple):
    width: int
    height: int
    fps: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height} @ {self.fps} fps"


def format_modes(modes: Iterable[Mode]) -> str:
    """'1280x720 @ 6/15/30 fps, 640x480 @ 6/15/30/60 fps': largest first."""
    rates: dict[tuple[int, int], set[int]] = defaultdict(set)
    for m in modes:
        rates[m.width, m.height].add(m.fps)
    sizes = sorted(rates, key=lambda s: (s[0] * s[1], s), reverse=True)
    return ", ".join(f"{w}x{h} @ {'/'.join(map(str, sorted(rates[w, h])))} fps" for w, h in sizes) or "none"


def describe(device: rs.device) -> str:
    def info(key: rs.camera_info) -> str:
        return device.get_info(key) if device.supports(key) else "?"

    return f"{info(rs.camera_info.name)} (serial {info(rs.camera_info.serial_number)})"


def select_device(devices: Sequence[rs.device], serial: str) -> rs.device:
    """The device with ``serial``, or the first one when ``serial`` is empty."""
    if not devices:
        raise CameraError(
            "no RealSense camera found: is it plugged in (a USB 3 port) and are librealsense's udev rules installed?"
        )
    for device in devices:
        if not serial or (
            device.supports(rs.camera_info.serial_number) and device.get_info(rs.camera_info.serial_number) == serial
        ):
            return device
    raise CameraError(f"no RealSense camera with serial {serial!r}; connected: {', '.join(map(describe, devices))}")


def video_profiles(device: rs.device, stream: rs.stream, fmt: rs.format) -> list[tuple[int, rs.video_stream_profile]]:
    """(sensor index, profile) of every ``stream`` profile in ``fmt`` that ``device`` offers."""
    return [
        (i, p.as_video_stream_profile())
        for i, sensor in enumerate(device.query_sensors())
        for p in sensor.get_stream_profiles()
        if p.stream_type() == stream and p.format() == fmt and p.is_video_stream_profile()
    ]


def mode_of(profile: rs.video_stream_profile) -> Mode:
    return Mode(profile.width(), profile.height(), profile.fps())


def pick_color(device: rs.device, mode: Mode) -> tuple[int, rs.video_stream_profile]:
    offered = video_profiles(device, rs.stream.color, rs.format.rgb8)
    for sensor, profile in offered:
        if mode_of(profile) == mode:
            return sensor, profile
    raise CameraError(
        f"{describe(device)} has no {mode} rgb8 colour mode; supported: {format_modes(mode_of(p) for _, p in offered)}"
    )


def pick_depth(device: rs.device, mode: Mode) -> tuple[int, rs.video_stream_profile]:
    """Depth at the colour's size and rate if offered, else the largest depth at that rate
    (alignment resamples it to the colour image either way)."""
    offered = video_profiles(device, rs.stream.depth, rs.format.z16)
    at_rate = [(s, p) for s, p in offered if p.fps() == mode.fps]
    if not at_rate:
        raise CameraError(
            f"{describe(device)} has no z16 depth at {mode.fps} fps to align to colour; depth modes: "
            f"{format_modes(mode_of(p) for _, p in offered)}"
        )
    return max(at_rate, key=lambda sp: (mode_of(sp[1]) == mode, sp[1].width() * sp[1].height()))


def ros_intrinsics(intr: rs.intrinsics) -> Intrinsics:
    if intr.model == rs.distortion.none:  # whatever the coefficients say
        model, d = "plumb_bob", [0.0] * 5
    elif intr.model in PLUMB_BOB:
        model, d = "plumb_bob", intr.coeffs[:5]
    elif intr.model == rs.distortion.kannala_brandt4:
        model, d = "equidistant", intr.coeffs[:4]
    else:
        raise CameraError(f"the {intr.model.name} distortion model has no sensor_msgs/CameraInfo equivalent")
    return Intrinsics(intr.width, intr.height, intr.fx, intr.fy, intr.ppx, intr.ppy, model, tuple(float(c) for c in d))


def ms_to_ns(ms: float) -> int:
    """librealsense's millisecond timestamps in integer nanoseconds, without the float64 rounding
    that ``ms * 1e6`` does to epoch times (~0.1 us)."""
    whole = math.floor(ms)
    return whole * 1_000_000 + round((ms - whole) * 1e6)


def depth_to_mm(depth: np.ndarray, mm_per_unit: float) -> np.ndarray:
    """z16 in the device's depth units -> uint16 millimetres (REP 118); 1 mm units are copied as they are."""
    if abs(mm_per_unit - 1.0) < 1e-6:
        return depth.copy()
    return np.clip(np.rint(depth * mm_per_unit), 0, 65535).astype(np.uint16)


class RealSenseCamera:
    """One device streaming rgb8 colour in ``mode``, plus z16 depth aligned to it if asked."""

    def __init__(self, device: rs.device, mode: Mode, align_depth: bool) -> None:
        sensors = device.query_sensors()
        color_sensor, color = pick_color(device, mode)
        self.intrinsics = ros_intrinsics(color.get_intrinsics())
        chosen = {color_sensor: [color]}
        self.description = f"{describe(device)} {mode} rgb8"
        self._align = None
        if align_depth:
            depth_sensor, depth = pick_depth(device, mode)
            chosen.setdefault(depth_sensor, []).append(depth)
            self._mm_per_unit = 1000.0 * sensors[depth_sensor].as_depth_sensor().get_depth_scale()
            self._align = rs.align(rs.stream.color)
            self.description += f" + depth {mode_of(depth)} aligned to colour"
        self._syncer = rs.syncer()
        self._opened: list[rs.sensor] = []
        try:
            for index, profiles in chosen.items():
                sensors[index].open(profiles)
                self._opened.append(sensors[index])
                sensors[index].start(self._syncer)
        except RuntimeError:
            self.close()
            raise

    def read(self, timeout: float) -> Frames | None:
        ok, frames = self._syncer.try_wait_for_frames(max(1, round(timeout * 1000)))
        if not ok:
            return None
        depth = None
        if self._align is not None:
            frames = self._align.process(frames)
            depth_frame = frames.get_depth_frame()
            if depth_frame:
                depth = depth_to_mm(np.asanyarray(depth_frame.get_data()), self._mm_per_unit)
        color = frames.get_color_frame()
        if not color:  # the syncer can hand out depth alone
            return None
        stamp = ms_to_ns(color.get_timestamp()) if color.get_frame_timestamp_domain() in HOST_CLOCK else None
        return Frames(
            np.array(np.asanyarray(color.get_data())), depth, stamp, color.get_frame_number(), self.intrinsics
        )

    def close(self) -> None:
        for sensor in self._opened:
            for action in (sensor.stop, sensor.close):
                try:
                    action()
                except RuntimeError:  # not streaming, or the device is gone: nothing left to release
                    pass
        self._opened = []


def device_lister() -> Callable[[], list[rs.device]]:
    """What is plugged in now (one librealsense context, which follows hot-plugging)."""
    context = rs.context()
    return lambda: list(context.query_devices())


def connector(
    devices: Callable[[], Sequence[rs.device]], serial: str, mode: Mode, align_depth: bool
) -> Callable[[], RealSenseCamera]:
    """What CameraDriver calls to (re)open the camera; ``devices`` lists what can be opened."""
    return lambda: RealSenseCamera(select_device(devices(), serial), mode, align_depth)
