"""sensor_msgs/CameraInfo from a pinhole model: one helper for every camera node (sim bridge,
RealSense), so their camera_info topics read the same to image_geometry and RViz."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sensor_msgs.msg import CameraInfo
from std_msgs.msg import Header

IDENTITY = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]


def camera_info(k: np.ndarray, height: int, width: int, header: Header, distortion_model: str = "plumb_bob",
                d: Sequence[float] = (0.0,) * 5) -> CameraInfo:
    """CameraInfo of a monocular camera with 3x3 intrinsics ``k`` (no rectification: R = I, P = [K | 0])."""
    info = CameraInfo(header=header, height=height, width=width, distortion_model=distortion_model)
    info.d = [float(v) for v in d]
    info.k = [float(v) for v in np.asarray(k).ravel()]
    info.r = list(IDENTITY)
    info.p = [float(k[0, 0]), 0.0, float(k[0, 2]), 0.0, 0.0, float(k[1, 1]), float(k[1, 2]), 0.0, 0.0, 0.0, 1.0, 0.0]
    return info
