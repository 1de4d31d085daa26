"""teleop_node: a joystick's or spacemouse's twist -> the arm command a policy would send.

Any teleop package's ``geometry_msgs/Twist`` (or ``TwistStamped``: ``input_type``) on cmd_vel
becomes amplify/command, the one-point JointTrajectory that the sim bridge and an arm driven by
policy_node take, so demonstrations are recorded with the actions a policy will output. The
mapping (scales, gripper axis, clipping) and the pairing of inputs with camera frames live in
``amplify_ros.control.teleop``. With ``stamp_from_camera`` each camera frame gets one command,
stamped with it: what the lockstep sim bridge waits for, and what lets an importer pair every
frame with its action. Without, each input is one command, stamped with the input's stamp or
its arrival. Input older than ``max_input_age`` commands nothing: the arm's controller holds.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np
from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.control.teleop import GRIPPER_AXES, FramePairing, TwistMapping
from amplify_ros.data.image_msgs import cdr_stamp
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.model_io import declare_image_qos
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.stamps import future_problem, header_at, now_seconds, stamp_ns, stamp_problem
from amplify_ros.nodes.tensor_msgs import chunk_to_trajectory


class TeleopNode(Node):
    """Subscribes cmd_vel (and camera/image_raw with ``stamp_from_camera``); publishes amplify/command."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_teleop", **kwargs)
        self.health = Health()
        p = LiveParameters(self)
        self.stamped = (
            p.declare(
                "input_type",
                "twist",
                "message on cmd_vel: 'twist' (teleop_twist_joy, teleop_twist_keyboard, spacenav) or 'twist_stamped'",
                choices=("twist", "twist_stamped"),
            )
            == "twist_stamped"
        )
        self.names = p.declare(
            "action_names",
            ["ee_dx", "ee_dy", "ee_dz", "gripper"],
            "joint_names of the command: 3 (end-effector delta x, y, z) or 4 (+ gripper), as the policy's action_names",
        )
        self.mapping = TwistMapping(
            dims=len(self.names),
            linear_scale=p.declare(
                "linear_scale",
                1.0,
                "action = linear x, y, z times this, clipped to [-1, 1]",
                range=(0.0, 1000.0),
                apply=self._remap("linear_scale"),
            ),
            gripper_scale=p.declare(
                "gripper_scale",
                1.0,
                "gripper = the gripper axis times this (negative flips it), clipped to [-1, 1]",
                range=(-1000.0, 1000.0),
                apply=self._remap("gripper_scale"),
            ),
            gripper_axis=p.declare(
                "gripper_axis",
                "angular.z",
                "twist axis that drives the gripper (4-D actions)",
                choices=GRIPPER_AXES,
                apply=self._remap("gripper_axis"),
            ),
        )
        self.pairing = FramePairing(
            p.declare(
                "max_input_age",
                0.5,
                "input older than this (s, wall) commands no camera frame",
                range=(0.001, 60.0),
                apply=self._set_max_age,
            )
        )
        self.stamp_from_camera = p.declare(
            "stamp_from_camera", False, "one command per camera frame, stamped with it (lockstep simulation, recording)"
        )
        if self.stamp_from_camera:  # raw: only the stamp is read, the frame is never deserialized
            self.create_subscription(Image, "camera/image_raw", self.on_frame, declare_image_qos(p), raw=True)
        self.create_subscription(
            TwistStamped if self.stamped else Twist, "cmd_vel", self.on_twist, QoSProfile(depth=10)
        )
        self.command_pub = self.create_publisher(JointTrajectory, "amplify/command", QoSProfile(depth=10))
        self.diagnostics = DiagnosticsReporter(self, self.health)
        self.health.status = "running"

    def _remap(self, field: str):
        def apply(value) -> None:
            self.mapping = dataclasses.replace(self.mapping, **{field: value})

        return apply

    def _set_max_age(self, value: float) -> None:
        self.pairing.max_age = value

    def on_twist(self, msg: Twist | TwistStamped) -> None:
        twist = msg.twist if self.stamped else msg
        stamp = stamp_ns(msg.header) if self.stamped else 0
        kind, reason = stamp_problem(msg.header, now_seconds(self), self.pairing.max_age) if self.stamped else ("", "")
        if kind:
            self.health.drop(kind, f"ignoring input: {reason}")
            return
        try:
            action = self.mapping.action(
                (twist.linear.x, twist.linear.y, twist.linear.z), (twist.angular.x, twist.angular.y, twist.angular.z)
            )
        except ValueError as err:
            self.health.drop("bad_input", str(err))
            self.get_logger().error(f"ignoring input: {err}", throttle_duration_sec=2.0)
            return
        if not self.stamp_from_camera:
            self.publish(action, stamp or self.get_clock().now().nanoseconds)
        elif (command := self.pairing.input(action, stamp or None, time.monotonic())) is not None:
            self.publish(*command)

    def on_frame(self, data: bytes) -> None:
        try:
            stamp = cdr_stamp(data)
        except ValueError as err:
            self.health.drop("bad_image", str(err))
            return
        kind, reason = future_problem(stamp * 1e-9, now_seconds(self), self.pairing.max_age)
        if kind:
            self.health.drop(kind, f"camera frame {reason}")
            return
        command, missed = self.pairing.frame(stamp, time.monotonic())
        if missed:
            self.health.drop("no_fresh_input")
            self.get_logger().warning(
                f"a camera frame got no command: no teleop input within max_input_age ({self.pairing.max_age} s)",
                throttle_duration_sec=5.0,
            )
        if command is not None:
            self.publish(*command)

    def publish(self, action: np.ndarray, stamp: int) -> None:
        start = time.perf_counter()
        self.command_pub.publish(chunk_to_trajectory(action[None], self.names, 0.0, header_at(stamp)))
        self.health.ok((time.perf_counter() - start) * 1e3)


def main(args: list[str] | None = None) -> None:
    run_node(TeleopNode, args)


if __name__ == "__main__":
    main()
