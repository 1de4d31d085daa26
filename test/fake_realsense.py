"""A RealSense without hardware: an rs.software_device whose frames the test writes."""

from __future__ import annotations

import numpy as np
import pyrealsense2 as rs

SERIAL = "000123456789"
START_MS = 1_700_000_000_000.5  # an epoch time in ms, like global-time stamps


def intrinsics(width: int, height: int, model: rs.distortion = rs.distortion.brown_conrady,
               coeffs: tuple[float, ...] = (0.1, -0.25, 0.001, -0.002, 0.05)) -> rs.intrinsics:
    intr = rs.intrinsics()
    intr.width, intr.height = width, height
    intr.fx, intr.fy, intr.ppx, intr.ppy = 0.9 * width, 0.95 * width, width / 2 - 0.25, height / 2 + 0.5
    intr.model, intr.coeffs = model, list(coeffs)
    return intr


def stamp_ns(stamp_ms: float) -> int:
    """A stamp ``push`` returned, in exact nanoseconds."""
    return round(stamp_ms - START_MS) * 1_000_000 + 1_700_000_000_000_500_000


class FakeRealSense:
    """Colour in rgb8 at every size in ``sizes`` x every rate in ``rates`` (the first is pushed to),
    and with ``depth`` a z16 stream of the first size with the same intrinsics and no offset, so
    aligned depth equals pushed depth away from the border."""

    def __init__(self, sizes=((64, 48), (32, 24)), rates=(30, 15), depth: bool = False,
                 model: rs.distortion = rs.distortion.brown_conrady, depth_units: float = 0.001) -> None:
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, "Intel RealSense D435 (software)")
        self.device.register_info(rs.camera_info.serial_number, SERIAL)
        self.width, self.height = sizes[0]
        self.count = 0  # frames pushed
        self.intrinsics = intrinsics(self.width, self.height, model)
        self._color_sensor = self.device.add_sensor("RGB Camera")
        uid = iter(range(1, 100))
        profiles = [self._color_sensor.add_video_stream(self._stream(rs.stream.color, rs.format.rgb8, 3, (w, h), fps,
                                                                     next(uid), intrinsics(w, h, model)))
                    for w, h in sizes for fps in rates]
        self._color = profiles[0].as_video_stream_profile()
        self._depth_units = depth_units
        if depth:
            self._depth_sensor = self.device.add_sensor("Stereo Module")
            self._depth_sensor.add_read_only_option(rs.option.depth_units, depth_units)
            self._depth = self._depth_sensor.add_video_stream(
                self._stream(rs.stream.depth, rs.format.z16, 2, sizes[0], rates[0], next(uid), self.intrinsics)
            ).as_video_stream_profile()
            same_place = rs.extrinsics()
            same_place.rotation, same_place.translation = [1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0]
            self._depth.register_extrinsics_to(self._color, same_place)

    @staticmethod
    def _stream(kind, fmt, bpp, size, fps, uid, intr) -> rs.video_stream:
        s = rs.video_stream()
        s.type, s.index, s.uid, s.fmt, s.bpp = kind, 0, uid, fmt, bpp
        s.width, s.height, s.fps, s.intrinsics = *size, fps, intr
        return s

    def push(self, color: np.ndarray, depth: np.ndarray | None = None,
             domain: rs.timestamp_domain = rs.timestamp_domain.global_time) -> float:
        """The next frame (numbers count from 1, stamps are START_MS + 32 ms per frame: exact in
        float64) in the first mode; depth (H, W) uint16 in ``depth_units``. Returns the stamp (ms)."""
        self.count += 1
        stamp_ms = START_MS + 32.0 * self.count
        if depth is not None:  # first, so the syncer pairs it with this colour frame
            self._depth_sensor.on_video_frame(self._frame(self._depth, depth, 2, stamp_ms, domain))
        self._color_sensor.on_video_frame(self._frame(self._color, color, 3, stamp_ms, domain))
        return stamp_ms

    def _frame(self, profile, pixels: np.ndarray, bpp: int, stamp_ms: float, domain) -> rs.software_video_frame:
        f = rs.software_video_frame()
        f.pixels, f.bpp, f.stride = np.ascontiguousarray(pixels), bpp, pixels.shape[1] * bpp
        f.timestamp, f.domain, f.frame_number, f.profile = stamp_ms, domain, self.count, profile
        f.depth_units = self._depth_units
        return f
