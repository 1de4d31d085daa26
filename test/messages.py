"""The messages tests send to nodes, made in one place. Stamps are wall-clock seconds (or a
Header), so a test can tell its messages, and the answers stamped with them, apart."""

from __future__ import annotations

import time
import uuid

import numpy as np
from geometry_msgs.msg import Twist, Vector3
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.stamps import header_at
from amplify_ros.nodes.tensor_msgs import chunk_to_trajectory

Stamp = float | Header  # seconds, or the header itself


def header(stamp: Stamp, frame: str = "cam") -> Header:
    return stamp if isinstance(stamp, Header) else header_at(int(round(stamp * 1e9)), frame)


def header_ago(age: float = 0.0) -> Header:
    """Stamped ``age`` seconds ago, with a frame id no other message has."""
    return header(time.time() - age, f"cam_{uuid.uuid4().hex[:8]}")


def image(stamp: Stamp, h: int = 48, w: int = 64, encoding: str = "rgb8", seed: int = 0) -> Image:
    """Random pixels (``seed``): colour, or 16UC1 depth in millimetres."""
    rng = np.random.default_rng(seed)
    if encoding == "16UC1":
        return numpy_to_imgmsg(rng.integers(0, 4000, (h, w), dtype=np.uint16), encoding, header(stamp))
    return numpy_to_imgmsg(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), encoding, header(stamp))


def joint_state(stamp: Stamp, names: list[str], values: list[float]) -> JointState:
    return JointState(header=header(stamp), name=list(names), position=[float(v) for v in values])


def command(actions: list[list[float]], names: list[str], stamp: Stamp, period: float = 0.05) -> JointTrajectory:
    """A chunk of actions (one row each), as policy_node sends them to amplify/command."""
    return chunk_to_trajectory(np.array(actions, float), names, period, header(stamp))


def twist(x: float, y: float, z: float, gripper: float) -> Twist:
    """A teleop twist: linear x, y, z and the gripper on angular z."""
    return Twist(linear=Vector3(x=x, y=y, z=z), angular=Vector3(z=gripper))
