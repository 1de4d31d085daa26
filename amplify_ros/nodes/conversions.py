"""sensor_msgs/Image <-> numpy, written here because PyPI's cv_bridge is broken (platform notes).

Names follow cv_bridge (``imgmsg_to_numpy`` ~ ``imgmsg_to_cv2``) so code reads the same on a full
ROS install. Supported encodings: rgb8, bgr8, rgba8, bgra8, mono8, 8UC1, 8UC3, mono16, 16UC1,
32FC1, 32FC2, 32SC1. Rows may be padded (``step`` larger than width x pixel size); endianness is
honoured. Dense tensors use this too: tracks travel as 32FC2 images (rows = time steps,
columns = points), motion codes as 32SC1 (docs/interfaces.md).
"""

from __future__ import annotations

import sys

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

# encoding -> (numpy dtype, channels)
ENCODINGS: dict[str, tuple[str, int]] = {
    "rgb8": ("uint8", 3), "bgr8": ("uint8", 3), "rgba8": ("uint8", 4), "bgra8": ("uint8", 4),
    "mono8": ("uint8", 1), "8UC1": ("uint8", 1), "8UC3": ("uint8", 3),
    "mono16": ("uint16", 1), "16UC1": ("uint16", 1),
    "32FC1": ("float32", 1), "32FC2": ("float32", 2), "32SC1": ("int32", 1),
}


class ImageConversionError(ValueError):
    """An Image message that cannot be read as the array it claims to hold."""


def imgmsg_to_numpy(msg: Image) -> np.ndarray:
    """(H, W) for one channel, (H, W, C) otherwise; a copy, never a view of the message."""
    if msg.encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {msg.encoding!r}; supported: {', '.join(ENCODINGS)}")
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


def numpy_to_imgmsg(array: np.ndarray, encoding: str, header: Header | None = None) -> Image:
    """Inverse of ``imgmsg_to_numpy``; the array's shape and dtype must fit the encoding."""
    if encoding not in ENCODINGS:
        raise ImageConversionError(f"unsupported image encoding {encoding!r}; supported: {', '.join(ENCODINGS)}")
    dtype, channels = ENCODINGS[encoding]
    arr = np.asarray(array)
    shape_ok = arr.ndim == 2 if channels == 1 else (arr.ndim == 3 and arr.shape[2] == channels)
    if arr.dtype != np.dtype(dtype) or not shape_ok:
        want = "(H, W)" if channels == 1 else f"(H, W, {channels})"
        raise ImageConversionError(f"{encoding} needs a {want} {dtype} array, got {arr.shape} {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height, msg.width = arr.shape[:2]
    msg.encoding = encoding
    msg.is_bigendian = sys.byteorder == "big"
    msg.step = msg.width * channels * arr.dtype.itemsize
    msg.data = arr.tobytes()
    return msg


def to_rgb(msg: Image) -> np.ndarray:
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
