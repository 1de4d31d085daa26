"""sensor_msgs/Image <-> numpy, written here because PyPI's cv_bridge is broken (platform notes).

Names follow cv_bridge (``imgmsg_to_numpy`` ~ ``imgmsg_to_cv2``) so code reads the same on a full
ROS install. Reading needs no ROS and lives in ``amplify_ros.data.image_msgs`` (the bag importer
uses it too); this module adds building messages. Dense tensors use this too: tracks travel as
32FC2 images (rows = time steps, columns = points), motion codes as 32SC1 (docs/interfaces.md).
"""

from __future__ import annotations

import sys

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from amplify_ros.data.image_msgs import ENCODINGS, ImageConversionError, imgmsg_to_numpy, to_rgb

__all__ = ["ENCODINGS", "ImageConversionError", "imgmsg_to_numpy", "numpy_to_imgmsg", "to_rgb"]


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
