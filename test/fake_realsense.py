"""A RealSense without hardware: an rs.software_device whose frames the test writes, and a
recording written by hand in librealsense's legacy .bag layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyrealsense2 as rs
from bags import write_messages
from rosbags.rosbag1 import Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

SERIAL = "000123456789"
START_MS = 1_700_000_000_000.5  # an epoch time in ms, like global-time stamps


def intrinsics(
    width: int,
    height: int,
    model: rs.distortion = rs.distortion.brown_conrady,
    coeffs: tuple[float, ...] = (0.1, -0.25, 0.001, -0.002, 0.05),
) -> rs.intrinsics:
    intr = rs.intrinsics()
    intr.width, intr.height = width, height
    intr.fx, intr.fy, intr.ppx, intr.ppy = 0.9 * width, 0.95 * width, width / 2 - 0.25, height / 2 + 0.5
    intr.model, intr.coeffs = model, list(coeffs)
    return intr


def stamp_ns(stamp_ms: float) -> int:
    """A stamp ``push`` returned, in exact nanoseconds."""
    return round(stamp_ms - START_MS) * 1_000_000 + 1_700_000_000_000_500_000


class FakeRealSense:
    """Colour in rgb8 at every size in ``sizes`` x every rate in ``rates`` (frames go to the first
    mode), and with ``depth`` a z16 stream of the first mode, with the same intrinsics and no offset
    from colour, so aligned depth equals the pushed depth wherever rs.align fills it in."""

    def __init__(
        self,
        sizes=((64, 48), (32, 24)),
        rates=(30, 15),
        depth: bool = False,
        model: rs.distortion = rs.distortion.brown_conrady,
        depth_units: float = 0.001,
    ) -> None:
        self.device = rs.software_device()
        self.device.register_info(rs.camera_info.name, "Intel RealSense D435 (software)")
        self.device.register_info(rs.camera_info.serial_number, SERIAL)
        self.count = 0  # frames pushed
        self.intrinsics = intrinsics(*sizes[0], model)
        self._color_sensor = self.device.add_sensor("RGB Camera")
        uid = iter(range(1, 100))
        profiles = [
            self._color_sensor.add_video_stream(
                self._stream(rs.stream.color, rs.format.rgb8, 3, (w, h), fps, next(uid), intrinsics(w, h, model))
            )
            for w, h in sizes
            for fps in rates
        ]
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

    def push(
        self,
        color: np.ndarray,
        depth: np.ndarray | None = None,
        domain: rs.timestamp_domain = rs.timestamp_domain.global_time,
    ) -> float:
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


def write_bag(path: Path, images: list[np.ndarray], fps: int = 30) -> tuple[list[float], rs.intrinsics]:
    """A colour recording in librealsense's ROS 1 .bag layout (file format 4, before its recorder
    moved to ROS 2 .db3), written with rosbags: the messages librealsense's bag reader needs and
    no more. Returns the frames' stamps (ms, global time) and the stream's intrinsics."""
    store = get_typestore(Stores.ROS1_NOETIC)
    store.register(
        get_types_from_msg("uint32 fps\nstring encoding\nbool is_recommended\n", "realsense_msgs/msg/StreamInfo")
    )
    T = store.types
    height, width = images[0].shape[:2]
    intr = intrinsics(width, height)
    stream = "/device_0/sensor_0/Color_0"
    static = 1  # ns: bag time 0 is invalid in ROS 1

    def header(seq: int, stamp_ms: float):
        ns = stamp_ns(stamp_ms)
        return T["std_msgs/msg/Header"](
            seq=seq, stamp=T["builtin_interfaces/msg/Time"](sec=ns // 10**9, nanosec=ns % 10**9), frame_id=""
        )

    messages = [
        ("/file_version", T["std_msgs/msg/UInt32"](data=4), static),
        ("/device_0/info", T["diagnostic_msgs/msg/KeyValue"](key="Name", value="Intel RealSense D435 (bag)"), static),
        ("/device_0/info", T["diagnostic_msgs/msg/KeyValue"](key="Serial Number", value=SERIAL), static),
        ("/device_0/sensor_0/info", T["diagnostic_msgs/msg/KeyValue"](key="Name", value="RGB Camera"), static),
        (f"{stream}/info", T["realsense_msgs/msg/StreamInfo"](fps=fps, encoding="rgb8", is_recommended=True), static),
        (
            f"{stream}/info/camera_info",
            T["sensor_msgs/msg/CameraInfo"](
                header=header(0, START_MS),
                height=height,
                width=width,
                distortion_model="Brown Conrady",
                D=np.array(intr.coeffs, float),
                K=np.array([intr.fx, 0, intr.ppx, 0, intr.fy, intr.ppy, 0, 0, 1.0]),
                R=np.eye(3).ravel(),
                P=np.zeros(12),
                binning_x=0,
                binning_y=0,
                roi=T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0, width=0, do_rectify=False),
            ),
            static,
        ),
    ]
    stamps = [START_MS + 32.0 * n for n in range(1, len(images) + 1)]
    for n, (image, stamp_ms) in enumerate(zip(images, stamps), 1):
        at = n * 10**9 // fps
        messages.append(
            (
                f"{stream}/image/data",
                T["sensor_msgs/msg/Image"](
                    header=header(n, stamp_ms),
                    height=height,
                    width=width,
                    encoding="rgb8",
                    is_bigendian=0,
                    step=width * 3,
                    data=np.ascontiguousarray(image).ravel(),
                ),
                at,
            )
        )
        messages.append(
            (
                f"{stream}/image/metadata",  # read at the image's bag time
                T["diagnostic_msgs/msg/KeyValue"](key="timestamp_domain", value="Global Time"),
                at,
            )
        )
    with Writer(path) as bag:
        write_messages(
            bag,
            [(topic, msg.__msgtype__, store.serialize_ros1(msg, msg.__msgtype__), at) for topic, msg, at in messages],
            store,
        )
    return stamps, intr
