"""Synthetic robot recordings for the bag tests: every value encodes the stamp it was made at.

Camera frame k is a uniform image of brightness k % 250; joint positions are [t, -t] and action
values [t, 2 t] with t the message's stamp in seconds after ``T0``, so a test can tell which
message an episode row came from.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import Stores, get_typestore

TS = get_typestore(Stores.ROS2_KILTED)
T0 = 1_700_000_000 * 10**9  # ns: stamps look like wall-clock time
LATENCY = 5_000_000  # ns between a message's header stamp and its arrival at the recorder
JOINTS = ["shoulder", "elbow"]
IMAGE, COMPRESSED = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
JOINT_STATE, TRAJECTORY = "sensor_msgs/msg/JointState", "trajectory_msgs/msg/JointTrajectory"
ARRAY, TWIST, STRING = "std_msgs/msg/Float64MultiArray", "geometry_msgs/msg/TwistStamped", "std_msgs/msg/String"

Message = tuple[str, str, bytes, int]  # topic, type, CDR bytes, receive time (ns)


def _t(name: str):
    return TS.types[name]


def header(stamp: int, frame: str = ""):
    return _t("std_msgs/msg/Header")(
        stamp=_t("builtin_interfaces/msg/Time")(sec=stamp // 10**9, nanosec=stamp % 10**9), frame_id=frame
    )


def serialize(msg, msgtype: str) -> bytes:
    return bytes(TS.serialize_cdr(msg, msgtype))


def image(stamp: int, value: int, width: int = 40, height: int = 30, encoding: str = "rgb8") -> bytes:
    channels = 1 if encoding == "mono8" else 3
    data = np.full(height * width * channels, value, np.uint8)
    msg = _t(IMAGE)(
        header=header(stamp, "cam"),
        height=height,
        width=width,
        encoding=encoding,
        is_bigendian=0,
        step=width * channels,
        data=data,
    )
    return serialize(msg, IMAGE)


def compressed(stamp: int, value: int, fmt: str = "jpeg") -> bytes:
    ok, buf = cv2.imencode(".jpg" if fmt == "jpeg" else ".png", np.full((30, 40, 3), value, np.uint8))
    assert ok
    return serialize(_t(COMPRESSED)(header=header(stamp, "cam"), format=fmt, data=buf.ravel()), COMPRESSED)


def joint_state(stamp: int, names: list[str], positions: list[float]) -> bytes:
    n = len(names)
    msg = _t(JOINT_STATE)(
        header=header(stamp), name=names, position=np.array(positions, float), velocity=np.zeros(n), effort=np.zeros(n)
    )
    return serialize(msg, JOINT_STATE)


def trajectory(stamp: int, names: list[str], positions: list[float]) -> bytes:
    duration = _t("builtin_interfaces/msg/Duration")(sec=0, nanosec=100_000_000)
    empty = np.zeros(0)
    point = _t("trajectory_msgs/msg/JointTrajectoryPoint")(
        positions=np.array(positions, float),
        velocities=empty,
        accelerations=empty,
        effort=empty,
        time_from_start=duration,
    )
    return serialize(_t(TRAJECTORY)(header=header(stamp), joint_names=names, points=[point]), TRAJECTORY)


def array(values: list[float]) -> bytes:
    layout = _t("std_msgs/msg/MultiArrayLayout")(dim=[], data_offset=0)
    return serialize(_t(ARRAY)(layout=layout, data=np.array(values, float)), ARRAY)


def twist(stamp: int, six: list[float]) -> bytes:
    v3 = _t("geometry_msgs/msg/Vector3")
    body = _t("geometry_msgs/msg/Twist")(linear=v3(*six[:3]), angular=v3(*six[3:]))
    return serialize(_t(TWIST)(header=header(stamp), twist=body), TWIST)


def string(text: str) -> bytes:
    return serialize(_t(STRING)(data=text), STRING)


def stamps(seconds: float, hz: float, offset: float = 0.0) -> list[int]:
    return [T0 + round((offset + k / hz) * 1e9) for k in range(int(seconds * hz))]


def seconds(stamp: int) -> float:
    return (stamp - T0) / 1e9


def recording(
    duration: float = 3.0,
    camera_hz: float = 30,
    state_hz: float = 200,
    action_hz: float = 10,
    action: str = TRAJECTORY,
    task: str | None = "stack the red block",
) -> list[Message]:
    """A teleoperation-like recording, in arrival order. Camera and joint states carry header
    stamps and arrive LATENCY later; trajectories are stamped 0 ("now"), so their arrival
    time counts; arrays have no header."""
    msgs: list[Message] = []
    for k, s in enumerate(stamps(duration, camera_hz)):
        msgs.append(("/camera/image_raw", IMAGE, image(s, k % 250), s + LATENCY))
    for s in stamps(duration, state_hz, offset=0.001):
        msgs.append(
            (
                "/joint_states",
                JOINT_STATE,
                joint_state(s, JOINTS + ["gripper"], [seconds(s), -seconds(s), 0.5]),
                s + LATENCY,
            )
        )
    for s in stamps(duration, action_hz, offset=0.02):
        t = seconds(s)
        data = {
            TRAJECTORY: lambda: trajectory(0, JOINTS, [t, 2 * t]),
            ARRAY: lambda: array([t, 2 * t]),
            TWIST: lambda: twist(s, [t, 2 * t, 0, 0, 0, 0]),
        }[action]()
        msgs.append(("/cmd", action, data, s))
    if task is not None:
        msgs.append(("/amplify/task", STRING, string(task), T0))
    return sorted(msgs, key=lambda m: m[3])


def write_bag(path: Path, messages: list[Message], storage: str = "mcap", zstd: bool = False) -> Path:
    """A bag as any rosbag2 recorder leaves it (rosbags' plain Writer), MCAP chunks optionally
    compressed with zstd."""
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    writer = Writer(path, version=9, storage_plugin=plugin)
    if zstd:
        writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
    with writer:
        write_messages(writer, messages, TS)
    return path


def write_messages(writer, messages: Iterable[Message], typestore) -> None:
    """Write (topic, type, bytes, time) messages with an open rosbags writer (ROS 1 or 2), each
    topic's connection added on its first message."""
    connections = {}
    for topic, msgtype, data, t in messages:
        if topic not in connections:
            connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore)
        writer.write(connections[topic], t, data)
