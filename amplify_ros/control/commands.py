"""One command vector -> the field values of the three output message types, with no ROS.

``amplify_ros.nodes.command_msgs`` builds the messages from these:

- ``trajectory_fields``: trajectory_msgs/JointTrajectory with one point, the command as the
  positions of ``joint_names``, to be reached ``time_from_start`` seconds after the header stamp
  (joint_trajectory_controller's ``~/joint_trajectory``);
- ``array_fields``: std_msgs/Float64MultiArray ``data`` (forward_command_controller's
  ``~/commands``, positions or velocities);
- ``twist_fields``: geometry_msgs/TwistStamped (MoveIt Servo's ``~/delta_twist_cmds``): a 6-vector is
  linear x, y, z then angular x, y, z; a 4-vector is linear x, y, z then a gripper value, which
  is returned apart for a gripper controller (angular is then zero).

Values must already be safe (``amplify_ros.control.safety``); these functions only check shapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TrajectoryFields:
    joint_names: list[str]
    positions: list[float]
    time_from_start: tuple[int, int]  # builtin_interfaces/Duration (sec, nanosec)


@dataclass(frozen=True)
class TwistFields:
    linear: tuple[float, float, float]
    angular: tuple[float, float, float]
    gripper: float | None  # the 4th value of a 4-vector command


def _vector(command: Sequence[float] | np.ndarray) -> list[float]:
    values = np.asarray(command, np.float64)
    if values.ndim != 1:
        raise ValueError(f"a command is one vector, got shape {values.shape}")
    return values.tolist()


def duration_fields(seconds: float) -> tuple[int, int]:
    """(sec, nanosec) of a non-negative duration, as builtin_interfaces/Duration holds it."""
    if not seconds >= 0:
        raise ValueError(f"a duration must be >= 0 s, got {seconds}")
    total = round(seconds * 1e9)
    return total // 1_000_000_000, total % 1_000_000_000


def trajectory_fields(
    command: Sequence[float] | np.ndarray, joint_names: Sequence[str], time_from_start: float
) -> TrajectoryFields:
    positions = _vector(command)
    if len(positions) != len(joint_names):
        raise ValueError(f"{len(positions)} values for {len(joint_names)} joints {list(joint_names)}")
    if not time_from_start > 0:
        raise ValueError(
            f"time_from_start must be > 0 s (0 asks the controller for an instant jump), got {time_from_start}"
        )
    return TrajectoryFields(list(joint_names), positions, duration_fields(time_from_start))


def array_fields(command: Sequence[float] | np.ndarray) -> list[float]:
    return _vector(command)


def twist_fields(command: Sequence[float] | np.ndarray) -> TwistFields:
    values = _vector(command)
    if len(values) == 6:
        return TwistFields(tuple(values[:3]), tuple(values[3:]), None)
    if len(values) == 4:
        return TwistFields(tuple(values[:3]), (0.0, 0.0, 0.0), values[3])
    raise ValueError(f"a twist command has 6 values (linear, angular) or 4 (linear, gripper), got {len(values)}")
