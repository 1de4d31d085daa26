"""Dense AMPLIFY tensors as standard messages (layouts in docs/interfaces.md).

- tracks: sensor_msgs/Image, 32FC2, rows = time steps, columns = grid points, channels = (x, y)
  pixel coordinates in the *source* camera image; NaN where a point is not visible;
- motion tokens: sensor_msgs/Image, 32SC1, one row, one column per code;
- action chunk: trajectory_msgs/JointTrajectory, one point per action step at ``period`` apart,
  ``positions`` = the action vector, ``joint_names`` = the action's names.
Every message carries the header of the image it was computed from.
"""

from __future__ import annotations

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from amplify_ros.control.commands import duration_fields
from amplify_ros.nodes.command_msgs import duration_msg
from amplify_ros.nodes.conversions import imgmsg_to_numpy, numpy_to_imgmsg


def tracks_to_msg(xy: np.ndarray, header: Header, visible: np.ndarray | None = None) -> Image:
    """xy (T, N, 2) pixel (x, y) -> 32FC2 image; invisible points become NaN."""
    arr = np.array(xy, np.float32)
    if visible is not None:
        arr[~np.asarray(visible, bool)] = np.nan
    return numpy_to_imgmsg(arr, "32FC2", header)


def msg_to_tracks(msg: Image) -> np.ndarray:
    """(T, N, 2) pixel (x, y); NaN where not visible."""
    if msg.encoding != "32FC2":
        raise ValueError(f"tracks travel as 32FC2 images, got {msg.encoding!r}")
    return imgmsg_to_numpy(msg)


def codes_to_msg(codes: np.ndarray, header: Header) -> Image:
    return numpy_to_imgmsg(np.asarray(codes, np.int32).reshape(1, -1), "32SC1", header)


def msg_to_codes(msg: Image) -> np.ndarray:
    if msg.encoding != "32SC1" or msg.height != 1:
        raise ValueError(f"motion tokens travel as one-row 32SC1 images, got {msg.encoding!r} with {msg.height} rows")
    return imgmsg_to_numpy(msg)[0]


def chunk_to_trajectory(actions: np.ndarray, names: list[str], period: float, header: Header) -> JointTrajectory:
    """(K, A) actions -> a trajectory whose point k is due ``k * period`` after the image."""
    msg = JointTrajectory(header=header, joint_names=list(names))
    msg.points = [
        JointTrajectoryPoint(positions=[float(v) for v in a], time_from_start=duration_msg(duration_fields(k * period)))
        for k, a in enumerate(np.asarray(actions))
    ]
    return msg


def trajectory_to_chunk(msg: JointTrajectory) -> np.ndarray:
    """(K, A) from the points' positions; raises ValueError on ragged or empty points."""
    rows = [list(p.positions) for p in msg.points]
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        raise ValueError(f"a chunk needs points of equal, non-zero length; got lengths {[len(r) for r in rows]}")
    return np.asarray(rows, np.float64)
