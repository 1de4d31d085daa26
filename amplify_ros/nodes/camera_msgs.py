"""Camera messages for every camera node (sim bridge, RealSense), so their topics read the same
to image_geometry, RViz and image_transport subscribers: sensor_msgs/CameraInfo from a pinhole
model, and the optional ``<image topic>/compressed`` stream.

The compressed stream is what image_transport's compressed plugin (compressed_image_transport)
publishes next to a raw image: topic ``<base>/compressed``, a sensor_msgs/CompressedImage with
the raw image's header and ``format`` "rgb8; jpeg compressed bgr8" or "rgb8; png compressed
bgr8", encoded only while someone subscribes. Its parameters keep image_transport's meanings
(jpeg_quality 1-100, png_level 0-9) but not its defaults (95 and 3): ours are the ones
benchmarks/compression.py chose (README, "Compressed recordings").
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import CameraInfo, CompressedImage
from std_msgs.msg import Header

from amplify_ros.data.image_msgs import COMPRESSED_FORMATS, compress_rgb
from amplify_ros.nodes.parameters import LiveParameters

IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
COMPRESSIONS = ("none", *COMPRESSED_FORMATS)
# Defaults from benchmarks/compression.py (README, "Compressed recordings"). jpeg 90: 18-22x smaller
# than raw at 640x480 (95, image_transport's default: 11-15x), LK tracking positions unchanged.
# png level 1: 30-50 % less encode time than level 3 (image_transport's) at 640x480 for 1-7 % more bytes.
JPEG_QUALITY = 90
PNG_LEVEL = 1


def camera_info(
    k: np.ndarray,
    height: int,
    width: int,
    header: Header,
    distortion_model: str = "plumb_bob",
    d: Sequence[float] = (0.0,) * 5,
) -> CameraInfo:
    """CameraInfo of a monocular camera with 3x3 intrinsics ``k`` (no rectification: R = I, P = [K | 0])."""
    info = CameraInfo(header=header, height=height, width=width, distortion_model=distortion_model)
    info.d = [float(v) for v in d]
    info.k = [float(v) for v in np.asarray(k).ravel()]
    info.r = list(IDENTITY)
    info.p = [float(k[0, 0]), 0.0, float(k[0, 2]), 0.0, 0.0, float(k[1, 1]), float(k[1, 2]), 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


@dataclass
class Compression:
    """How a camera node fills ``<image topic>/compressed``; ``format`` 'none': it has no such topic."""

    format: str = "none"
    jpeg_quality: int = JPEG_QUALITY
    png_level: int = PNG_LEVEL

    @classmethod
    def declare(cls, p: LiveParameters, topics: str) -> Compression:
        """The parameters compression (read-only: it decides the topics), jpeg_quality and png_level
        (live); ``topics`` names the image topics in the descriptions."""
        c = cls()
        c.format = p.declare(
            "compression",
            "none",
            f"also publish {topics}/compressed (sensor_msgs/CompressedImage, "
            "as image_transport's compressed plugin) in this format, encoded only while subscribed; "
            "'none': raw images only",
            choices=COMPRESSIONS,
        )
        c.jpeg_quality = p.declare(
            "jpeg_quality",
            JPEG_QUALITY,
            "compression jpeg: quality (higher: larger, closer to the raw image)",
            range=(1, 100),
            apply=partial(setattr, c, "jpeg_quality"),
        )
        c.png_level = p.declare(
            "png_level",
            PNG_LEVEL,
            "compression png (lossless): zlib level (higher: smaller, slower to encode)",
            range=(0, 9),
            apply=partial(setattr, c, "png_level"),
        )
        return c


def compressed_image(rgb: np.ndarray, header: Header, compression: Compression) -> CompressedImage:
    """An (H, W, 3) uint8 RGB frame as image_transport's compressed plugin publishes it."""
    fmt, data = compress_rgb(rgb, compression.format, compression.jpeg_quality, compression.png_level)
    return CompressedImage(
        header=header, format=fmt, data=array("B", data)
    )  # an array is taken without a check per byte


class CompressedPublisher:
    """``<image_topic>/compressed``; a frame is encoded only while the topic has subscribers."""

    def __init__(self, node: Node, image_topic: str, qos: QoSProfile, compression: Compression) -> None:
        self.compression = compression
        self.pub = node.create_publisher(CompressedImage, f"{image_topic}/compressed", qos)

    def publish(self, rgb: np.ndarray, header: Header) -> None:
        if self.pub.get_subscription_count():
            self.pub.publish(compressed_image(rgb, header, self.compression))


def compressed_publisher(
    node: Node, image_topic: str, qos: QoSProfile, compression: Compression
) -> CompressedPublisher | None:
    """The compressed stream of ``image_topic``, or None when ``compression.format`` is 'none'."""
    return None if compression.format == "none" else CompressedPublisher(node, image_topic, qos, compression)
