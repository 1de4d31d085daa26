"""realsense_node: an Intel RealSense camera on realsense2_camera's topic names, so configs written
for the official driver work unchanged, and a camera that is unplugged and plugged in again comes
back by itself.

Publishes camera/color/image_raw (rgb8) + camera/color/camera_info; with ``compression`` jpeg or
png also camera/color/image_raw/compressed, as realsense2_camera's image_transport does; with
``align_depth``, camera/aligned_depth_to_color/image_raw (16UC1, mm, never compressed: depth
needs compressedDepth's format) + its camera_info. A thread reads the camera
(amplify_ros.camera.stream.CameraDriver) and wakes the executor through a guard condition, so
publishing, /diagnostics and parameter services run on the executor and never wait for the camera.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from rclpy.exceptions import InvalidHandle
from rclpy.node import Node
from rclpy.time import Time
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from amplify_ros.camera.realsense import Mode, connector, device_lister
from amplify_ros.camera.stream import CameraDriver, Frames
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.camera_msgs import Compression, camera_info, compressed_publisher
from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import image_qos

if TYPE_CHECKING:
    import pyrealsense2 as rs


class RealSenseNode(Node):
    def __init__(self, *, devices: Callable[[], Sequence[rs.device]] | None = None, **kwargs) -> None:
        """``devices`` lists the devices to choose from: what is plugged in unless given (tests give
        software devices and recordings)."""
        super().__init__("amplify_realsense", **kwargs)
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None
        self.health = Health()
        p = LiveParameters(self)
        serial = p.declare(
            "serial",
            "",
            "serial number of the camera to open (empty: the first one found); a "
            "leading '_' is dropped, as realsense2_camera does, so digits stay a string",
        )
        mode = Mode(
            p.declare("width", 640, "colour image width (px): one of the camera's modes", range=(1, 8192)),
            p.declare("height", 480, "colour image height (px): one of the camera's modes", range=(1, 8192)),
            p.declare("fps", 30, "frames per second: one of the camera's modes", range=(1, 1000)),
        )
        align_depth = p.declare(
            "align_depth",
            False,
            "also publish depth registered to the colour image (16UC1, mm) on camera/aligned_depth_to_color/image_raw",
        )
        self.frame_id = p.declare(
            "frame_id", "camera_color_optical_frame", "frame_id of colour and aligned depth", apply=p.setter("frame_id")
        )
        reconnect_period = p.declare(
            "reconnect_period",
            1.0,
            "while no camera streams, try to open one this often (s)",
            range=(0.05, 60.0),
            apply=lambda value: setattr(self.driver, "reconnect_period", value),
        )
        frame_timeout = p.declare(
            "frame_timeout",
            2.0,
            "a camera that sends no frame for this long (s) is taken as lost and opened again",
            range=(0.1, 60.0),
            apply=lambda value: setattr(self.driver, "frame_timeout", value),
        )
        qos = image_qos(
            p.declare(
                "image_qos",
                "reliable",
                "image and camera_info QoS: 'reliable' (keep last 1; "
                "every subscriber matches, and FastDDS loses about half of best-effort 640x480 "
                "frames) or 'sensor_data' (best effort)",
                choices=("sensor_data", "reliable"),
            )
        )
        compression = Compression.declare(p, "camera/color/image_raw")
        self.color_pub = self.create_publisher(Image, "camera/color/image_raw", qos)
        self.compressed_pub = compressed_publisher(self, "camera/color/image_raw", qos, compression)
        self.color_info_pub = self.create_publisher(CameraInfo, "camera/color/camera_info", qos)
        self.depth_pub = self.depth_info_pub = None
        if align_depth:
            self.depth_pub = self.create_publisher(Image, "camera/aligned_depth_to_color/image_raw", qos)
            self.depth_info_pub = self.create_publisher(CameraInfo, "camera/aligned_depth_to_color/camera_info", qos)
        self.diagnostics = DiagnosticsReporter(self, self.health)

        self.driver = CameraDriver(
            connector(devices or device_lister(), serial.removeprefix("_"), mode, align_depth),
            reconnect_period,
            frame_timeout,
            on_state=self.on_camera_state,
        )
        self.health.status = self.driver.status
        self._stamps = ""  # which clock stamps the images, logged when it changes
        self._latest: deque[Frames] = deque(maxlen=1)  # a slow executor gets the newest capture, not a backlog
        self._frames_ready = self.create_guard_condition(self.publish_frames)
        self._reader = threading.Thread(
            target=self.driver.run, args=(self._stop, self.hand_over), name="realsense_reader", daemon=True
        )
        self._reader.start()

    # --- reading thread ---------------------------------------------------------------------
    def hand_over(self, frames: Frames) -> None:
        self._latest.append(frames)
        try:
            self._frames_ready.trigger()
        except InvalidHandle:  # rclpy shut down (SIGTERM) before destroy_node stopped this thread
            self._stop.set()

    def on_camera_state(self, status: str, error: str) -> None:
        self.health.status, self.health.error = status, error
        if error:
            self.get_logger().error(f"{error} (trying again every {self.driver.reconnect_period:g} s)")
        else:
            self.get_logger().info(f"camera: {status}")

    # --- executor ---------------------------------------------------------------------------
    def header(self, frames: Frames) -> Header:
        """Stamped with the capture time when the camera gives it on the host's clock, else on arrival."""
        stamps = "the node clock on arrival" if frames.stamp_ns is None else "the capture time (host clock)"
        if stamps != self._stamps:
            self._stamps = stamps
            self.get_logger().info(f"stamping images with {stamps}")
        stamp = self.get_clock().now() if frames.stamp_ns is None else Time(nanoseconds=frames.stamp_ns)
        return Header(frame_id=self.frame_id, stamp=stamp.to_msg())

    def publish_frames(self) -> None:
        try:
            frames = self._latest.popleft()
        except IndexError:  # an earlier wake-up already published it
            return
        start = time.perf_counter()
        header = self.header(frames)
        intr = frames.intrinsics
        info = camera_info(intr.k(), intr.height, intr.width, header, intr.distortion_model, intr.d)
        self.color_pub.publish(numpy_to_imgmsg(frames.color, "rgb8", header))
        if self.compressed_pub is not None:
            self.compressed_pub.publish(frames.color, header)
        self.color_info_pub.publish(info)
        if self.depth_pub is not None:
            if frames.depth is None:
                self.health.drop("no_depth")
            else:
                self.depth_pub.publish(numpy_to_imgmsg(frames.depth, "16UC1", header))
                self.depth_info_pub.publish(info)
        self.health.ok((time.perf_counter() - start) * 1e3)

    def destroy_node(self) -> None:
        self._stop.set()
        if self._reader is not None:  # None if the constructor failed (rclpy destroys such nodes at shutdown)
            self._reader.join()  # it closes the camera
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(RealSenseNode, args)


if __name__ == "__main__":
    main()
