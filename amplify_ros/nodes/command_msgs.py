"""Command field values (``amplify_ros.control.commands``) -> ROS messages; the only part of
command shaping that imports message classes."""

from __future__ import annotations

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import TwistStamped, Vector3
from std_msgs.msg import Float64MultiArray, Header
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from amplify_ros.control.commands import TrajectoryFields, TwistFields


def duration_msg(fields: tuple[int, int]) -> Duration:
    """(sec, nanosec) from ``control.commands.duration_fields`` -> builtin_interfaces/Duration."""
    sec, nanosec = fields
    return Duration(sec=sec, nanosec=nanosec)


def joint_trajectory_msg(fields: TrajectoryFields, header: Header) -> JointTrajectory:
    point = JointTrajectoryPoint(positions=fields.positions, time_from_start=duration_msg(fields.time_from_start))
    return JointTrajectory(header=header, joint_names=fields.joint_names, points=[point])


def float64_array_msg(data: list[float]) -> Float64MultiArray:
    return Float64MultiArray(data=data)


def twist_stamped_msg(fields: TwistFields, header: Header) -> TwistStamped:
    msg = TwistStamped(header=header)
    msg.twist.linear = Vector3(x=fields.linear[0], y=fields.linear[1], z=fields.linear[2])
    msg.twist.angular = Vector3(x=fields.angular[0], y=fields.angular[1], z=fields.angular[2])
    return msg
