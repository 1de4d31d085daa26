"""sensor_msgs/Image and CompressedImage fields -> numpy (and the stamp of a raw frame), with no ROS import.

The rclpy nodes (``amplify_ros.nodes.conversions``) and the bag importer (messages deserialized
by rosbags) both read images; their message objects have the same fields, so one reader serves
both. Supported encodings: rgb8, bgr8, rgba8, bgra8, mono8, 8UC1, 8UC3, mono16, 16UC1, 32FC1,
32FC2, 32SC1. Rows may be padded (``step`` larger than width x pixel size); endianness is
honoured. Compressed images: whatever OpenCV decodes (jpeg, png); ``compress_rgb`` makes them
as image_transport's compressed publisher does.
"""

from __future__ import annotations

import struct
from typing import Any

import cv2
import numpy as np

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("uint8", 3), "bgr8": ("uint8", 3), "rgba8": ("uint8", 4), "bgra8": ("uint8", 4),
    "mono8": ("uint8", 1), "8UC1": ("uint8", 1), "8UC3": ("uint8", 3),
    "mono16": ("uint16", 1), "16UC1": ("uint16", 1),
    "32FC1": ("float32", 1), "32FC2": ("float32", 2), "32SC1": ("int32", 1),
}


class ImageConversionError(ValueError):
    """An image message that cannot be read as the array it claims to hold."""


def imgmsg_to_numpy(msg: Any) -> np.ndarray:
    """(H, W) for one channel, (H, W, C) otherwise; a copy, never a view of the message."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
    if msg.width == 0 or msg.height == 0:  # nothing to resize or look at; cv2 would assert later
        raise ImageConversionError(f"empty {msg.encoding} image ({msg.width}x{msg.height})")
    dtype, channels = ENCODINGS[msg.encoding]
    dt = np.dtype(dtype).newbyteorder(">" if msg.is_bigendian else "<")
    row_bytes = msg.width * channels * dt.itemsize
    if msg.step < row_bytes or len(msg.data) < msg.step * msg.height:
        raise ImageConversionError(
            f"{msg.encoding} image {msg.width}x{msg.height} needs step >= {row_bytes} and {msg.step * msg.height} bytes; "
            f"got step {msg.step} and {len(msg.data)} bytes")
    raw = np.frombuffer(bytes(msg.data), np.uint8, count=msg.step * msg.height).reshape(msg.height, msg.step)
    pixels = raw[:, :row_bytes].copy().view(dt).reshape(msg.height, msg.width, channels)
    pixels = pixels.astype(dt.newbyteorder("="), copy=False)
    return pixels[..., 0] if channels == 1 else pixels


def to_rgb(msg: Any) -> np.ndarray:
    """A camera image as (H, W, 3) uint8 RGB, whatever common colour encoding it arrived in."""
    arr = imgmsg_to_numpy(msg)
    if msg.encoding in ("rgb8", "8UC3"):
        return arr
    if msg.encoding == "bgr8":
        return np.ascontiguousarray(arr[..., ::-1])
    if msg.encoding in ("rgba8", "bgra8"):
        rgb = arr[..., :3]
        return np.ascontiguousarray(rgb if msg.encoding == "rgba8" else rgb[..., ::-1])
    if msg.encoding in ("mono8", "8UC1"):
        return np.repeat(arr[..., None], 3, axis=2)
    raise ImageConversionError(f"{msg.encoding!r} is not a colour camera encoding (expected rgb8, bgr8, rgba8, bgra8 or mono8)")


def compressed_to_rgb(msg: Any) -> np.ndarray:
    """A sensor_msgs/CompressedImage (jpeg, png, ...) as (H, W, 3) uint8 RGB."""
    bgr = cv2.imdecode(np.frombuffer(bytes(msg.data), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ImageConversionError(f"compressed image ({msg.format!r}, {len(msg.data)} bytes) cannot be decoded")
    return np.ascontiguousarray(bgr[..., ::-1])


COMPRESSED_FORMATS = ("jpeg", "png")


def compress_rgb(rgb: np.ndarray, fmt: str, jpeg_quality: int = 95, png_level: int = 3) -> tuple[str, bytes]:
    """(format, data) of a sensor_msgs/CompressedImage holding an (H, W, 3) uint8 RGB image, as
    image_transport's compressed publisher (compressed_image_transport) fills them for an rgb8
    image: OpenCV encodes the BGR pixels, and ``format`` says so, e.g. "rgb8; jpeg compressed bgr8".
    Its defaults too: jpeg quality 95 (1-100), png level 3 (0-9, higher is smaller and slower)."""
    if fmt not in COMPRESSED_FORMATS:
        raise ValueError(f"compression format must be one of {', '.join(COMPRESSED_FORMATS)}, got {fmt!r}")
    if not 1 <= jpeg_quality <= 100 or not 0 <= png_level <= 9:
        raise ValueError(f"jpeg_quality must be in 1..100 and png_level in 0..9, got {jpeg_quality} and {png_level}")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ImageConversionError(f"compression needs an (H, W, 3) uint8 RGB image, got {rgb.shape} {rgb.dtype}")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)] if fmt == "jpeg" else [cv2.IMWRITE_PNG_COMPRESSION, int(png_level)]
    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ImageConversionError(f"OpenCV could not {fmt}-encode a {rgb.shape[1]}x{rgb.shape[0]} image")
    return f"rgb8; {fmt} compressed bgr8", buf.tobytes()


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    """``rgb`` as a subscriber of a jpeg-compressed topic at ``quality`` sees it."""
    _, data = compress_rgb(rgb, "jpeg", jpeg_quality=quality)
    return np.ascontiguousarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1])


def cdr_stamp(data: bytes) -> int:
    """The header stamp (ns) of a serialized message that starts with a std_msgs/Header (Image,
    CameraInfo, ...), read from its first 12 bytes: a node that needs only a frame's time need
    not deserialize the frame. Raises ValueError on data too short to hold a header, not CDR, or whose
    stamp is corrupt (negative, or nanoseconds of a second or more)."""
    if len(data) < 12:
        raise ValueError(f"{len(data)} bytes cannot hold a CDR header stamp")
    if data[0] != 0 or data[1] > 1:
        raise ValueError(f"not a plain CDR message (encapsulation {bytes(data[:2]).hex()}, expected 0000 or 0001)")
    sec, nanosec = struct.unpack_from("<iI" if data[1] & 1 else ">iI", data, 4)  # after the encapsulation header
    if nanosec >= 1_000_000_000 or sec < 0:
        raise ValueError(f"corrupt header stamp: {sec} s {nanosec} ns (seconds must not be negative, nanoseconds below 10^9)")
    return sec * 1_000_000_000 + nanosec
