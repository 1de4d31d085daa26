"""arm_output_node: the policy's commands -> a real arm's controller, through the safety filter.

Takes amplify/command (the next action, stamped with its camera image), checks it with
control/safety.py (enable gate, latching e-stop, heartbeat, stale image/state, NaN; clamps to
joint / velocity / workspace limits) and publishes what passes on arm/command as the type the
controller wants (`output_type`): trajectory_msgs/JointTrajectory (joint_trajectory_controller),
std_msgs/Float64MultiArray (forward position/velocity controllers) or geometry_msgs/TwistStamped
(MoveIt Servo). Remap arm/command to the controller's topic. When a command is held nothing is
published: position controllers keep their last target, Servo stops after its timeout.
"""

from __future__ import annotations

import time

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.control.commands import array_fields, trajectory_fields, twist_fields
from amplify_ros.control.safety import SafetyConfig, SafetyFilter
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.command_msgs import float64_array_msg, joint_trajectory_msg, twist_stamped_msg
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import state_qos
from amplify_ros.nodes.stamps import now_seconds, usable_seconds
from amplify_ros.nodes.state_msgs import joint_reading
from amplify_ros.nodes.tensor_msgs import trajectory_to_chunk

OUTPUT_TYPES = {"joint_trajectory": JointTrajectory, "float64_array": Float64MultiArray, "twist": TwistStamped}


class ArmOutputNode(Node):
    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_arm_output", **kwargs)
        self.health = Health()
        p = LiveParameters(self)
        self.output_type = p.declare(
            "output_type", "joint_trajectory", "message type on arm/command", choices=tuple(OUTPUT_TYPES)
        )
        self.joint_names = p.declare(
            "joint_names", [], "names of the command's values (joint_trajectory: the controller's joints, in order)"
        )
        self.state_names = p.declare(
            "state_names",
            [],
            "joint_states entries that are the current value of each "
            "command value (empty: no state; then no max_velocity and no state age check)",
        )
        period = p.declare(
            "period",
            0.05,
            "seconds between commands: trajectory time_from_start and the step max_velocity allows",
            range=(1e-3, 10.0),
        )
        arrays = {
            name: p.declare(name, [], desc, empty=Parameter.Type.DOUBLE_ARRAY)
            for name, desc in (
                (
                    "lower",
                    "lower limit per command value (joint positions, or speeds for velocity commands); empty: none",
                ),
                ("upper", "upper limit per command value; empty: none"),
                (
                    "max_velocity",
                    "largest change per second, one value or one per command value; empty: no limit "
                    "(needs state_names: the first step is measured from the current state)",
                ),
                (
                    "workspace_lower",
                    "x, y, z lower corner of the box Cartesian targets (values 0..2) stay in; empty: none",
                ),
                ("workspace_upper", "x, y, z upper corner of that box"),
            )
        }
        image_age = p.declare(
            "max_image_age", 0.5, "commands computed from an image older than this are held (s)", range=(1e-3, 3600.0)
        )
        state_age = p.declare(
            "max_state_age", 0.2, "hold when the robot state is older than this (s)", range=(1e-3, 3600.0)
        )
        heartbeat = p.declare(
            "heartbeat_timeout",
            0.0,
            "hold unless a true heartbeat arrived within this (s; 0: no heartbeat required)",
            range=(0.0, 60.0),
        )
        command_gap = p.declare(
            "max_command_gap",
            0.0,
            "a command arriving longer than this after the previous one "
            "(the policy died or restarted) disables the output until enabled:=true again (s; 0: "
            "never)",
            range=(0.0, 60.0),
        )
        self.frame_id = p.declare("frame_id", "base_link", "twist output: the frame of the velocities")
        if not self.joint_names:
            raise ValueError("joint_names is empty: name the command's values (it sets how many there are)")
        if arrays["max_velocity"] and len(self.state_names) != len(self.joint_names):
            raise ValueError("max_velocity needs state_names, one per joint name, to measure the first step from")
        # A misconfigured limit raises here: a safety node that cannot apply its limits must not start.
        self.filter = SafetyFilter(
            SafetyConfig(
                size=len(self.joint_names),
                period=period,
                **{k: v or None for k, v in arrays.items()},
                max_image_age=image_age,
                max_state_age=state_age if self.state_names else None,
                heartbeat_timeout=heartbeat or None,
                max_command_gap=command_gap or None,
            )
        )
        p.declare(
            "enabled",
            False,
            "the gate: commands go out only while true (off at start on a real arm)",
            apply=self._set_enabled,
        )
        self._state: tuple[np.ndarray, float] | None = None
        self._heartbeat: float | None = None
        self.create_subscription(JointTrajectory, "amplify/command", self.on_command, QoSProfile(depth=10))
        self.create_subscription(JointState, "joint_states", self.on_state, state_qos())
        self.create_subscription(Bool, "heartbeat", self.on_heartbeat, QoSProfile(depth=10))
        self.create_subscription(Bool, "e_stop", self.on_estop, QoSProfile(depth=10))
        self.create_service(Trigger, "~/reset_estop", self.on_reset)
        self.pub = self.create_publisher(OUTPUT_TYPES[self.output_type], "arm/command", QoSProfile(depth=10))
        self.diagnostics = DiagnosticsReporter(self, self.health)
        self._set_enabled(self.get_parameter("enabled").value)

    def _set_enabled(self, value: bool) -> None:
        if value and self.filter.estopped:
            raise ValueError("the e-stop is latched: call ~/reset_estop first")
        self.filter.enable() if value else self.filter.disable()
        self.health.status = "running" if value else "disabled: set enabled:=true to move the arm"
        self.get_logger().info("output enabled" if value else "output disabled")

    def on_state(self, msg: JointState) -> None:
        if not self.state_names:
            return
        try:
            vec, stamp = joint_reading(msg, self.state_names, now_seconds(self), self.filter.config.max_state_age)
            self._state = (vec.astype(np.float64), stamp)
        except ValueError as err:
            self.health.drop("bad_state", str(err))

    def on_heartbeat(self, msg: Bool) -> None:
        if msg.data:
            self._heartbeat = now_seconds(self)

    def on_estop(self, msg: Bool) -> None:
        if msg.data and not self.filter.estopped:
            self.filter.estop("e_stop topic")
            self.health.status = "E-STOP latched: call ~/reset_estop, then set enabled:=true"
            self.get_logger().error("e-stop: output halted until ~/reset_estop and enabled:=true")

    def on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        self.filter.reset()
        self.set_parameters([Parameter("enabled", value=False)])  # says so on /diagnostics
        response.success, response.message = True, "e-stop cleared; output stays off until enabled:=true"
        return response

    def on_command(self, msg: JointTrajectory) -> None:
        start = time.perf_counter()
        try:
            command = trajectory_to_chunk(msg)[0]
        except ValueError as err:
            command = np.array([np.nan])  # refused below as wrong_size or non_finite, and counted
            self.get_logger().error(f"unreadable command: {err}", throttle_duration_sec=2.0)
        state, state_time = self._state if self._state is not None else (None, None)
        verdict = self.filter.check(
            command, now_seconds(self), usable_seconds(msg.header), state_time, self._heartbeat, state
        )
        self.health.info = {k: str(v) for k, v in sorted(self.filter.counters.items()) if v}
        if verdict.command is None:
            if verdict.reason.startswith("command_gap"):  # the filter closed the gate: say so, as enabled:=false
                self.get_logger().error(f"{verdict.reason}; set enabled:=true to move again")
                self.set_parameters([Parameter("enabled", value=False)])
                return
            self.get_logger().warning(f"holding: {verdict.reason}", throttle_duration_sec=2.0)
            return
        if verdict.reason:
            self.get_logger().warning(f"command changed: {verdict.reason}", throttle_duration_sec=2.0)
        self.pub.publish(self.shape(verdict.command, msg))
        self.health.ok((time.perf_counter() - start) * 1e3)

    def shape(self, command: np.ndarray, msg: JointTrajectory):
        header = msg.header
        if self.output_type == "joint_trajectory":
            return joint_trajectory_msg(trajectory_fields(command, self.joint_names, self.filter.config.period), header)
        if self.output_type == "float64_array":
            return float64_array_msg(array_fields(command))
        header.frame_id = self.frame_id
        return twist_stamped_msg(twist_fields(command), header)


def main(args: list[str] | None = None) -> None:
    run_node(ArmOutputNode, args)


if __name__ == "__main__":
    main()
