"""arm_output_node over DDS: the gate, the e-stop latch, limits, staleness, heartbeat, adapters."""

import time

import numpy as np
import pytest
from geometry_msgs.msg import TwistStamped
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.arm_output_node import ArmOutputNode
from amplify_ros.nodes.tensor_msgs import chunk_to_trajectory
from ros_probe import Probe, header, joint_state, spin_for, spin_until

JOINTS = ["j1", "j2", "j3"]


def make(output_type="joint_trajectory", **params):
    overrides = {"joint_names": JOINTS, "output_type": output_type, "lower": [-1.0, -1.0, -1.0],
                 "upper": [1.0, 1.0, 1.0], **params}
    return ArmOutputNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items() if v != []])


def graph(node, kind=JointTrajectory):
    probe = Probe()
    probe.listen(kind, "arm/command")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    return executor, probe


def command(probe, values, age=0.0):
    probe.send(JointTrajectory, "amplify/command", chunk_to_trajectory(np.array([values]), JOINTS, 0.05, header(time.time() - age)))


def test_gate_estop_and_reset(ros):
    node = make()
    executor, probe = graph(node)
    reset = probe.create_client(Trigger, "amplify_arm_output/reset_estop")
    try:
        assert spin_until(executor, lambda: probe.subscribers("amplify/command") > 0 or command(probe, [0.1, 0.2, 0.3]))
        command(probe, [0.1, 0.2, 0.3])
        assert spin_until(executor, lambda: node.filter.counters["disabled"] >= 1)
        assert not probe.got["arm/command"]  # off by default: nothing moves
        assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
        command(probe, [0.1, 2.0, 0.3])
        assert spin_until(executor, lambda: bool(probe.got["arm/command"]))
        out = probe.got["arm/command"][-1]
        assert out.joint_names == JOINTS and list(out.points[0].positions) == [0.1, 1.0, 0.3]  # clamped to upper
        assert out.points[0].time_from_start.nanosec == 50_000_000 and node.filter.counters["clamped_limits"] == 1
        probe.send(Bool, "e_stop", Bool(data=True))
        assert spin_until(executor, lambda: node.filter.estopped)
        probe.send(Bool, "e_stop", Bool(data=False))  # releasing the button does not clear the latch
        spin_for(executor, 0.2)
        n = len(probe.got["arm/command"])
        command(probe, [0.0, 0.0, 0.0])
        assert spin_until(executor, lambda: node.filter.counters["estop"] >= 1) and len(probe.got["arm/command"]) == n
        result = node.set_parameters([Parameter("enabled", value=True)])[0]
        assert not result.successful and "reset_estop" in result.reason
        assert reset.wait_for_service(timeout_sec=5.0)
        future = reset.call_async(Trigger.Request())
        assert spin_until(executor, future.done) and future.result().success
        assert not node.filter.estopped and not node.filter.enabled  # still off until enabled again
        assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
        command(probe, [0.0, 0.0, 0.0])
        assert spin_until(executor, lambda: len(probe.got["arm/command"]) == n + 1)
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_a_command_after_a_gap_disables_the_output_until_enabled(ros):
    node = make(enabled=True, max_command_gap=0.3)
    executor, probe = graph(node)
    try:
        assert spin_until(executor, lambda: probe.subscribers("amplify/command") > 0 or command(probe, [0.1, 0.2, 0.3]))
        command(probe, [0.1, 0.2, 0.3])
        assert spin_until(executor, lambda: bool(probe.got["arm/command"]))
        spin_for(executor, 0.5)  # the policy is gone for longer than max_command_gap
        n = len(probe.got["arm/command"])
        command(probe, [0.1, 0.2, 0.3])
        assert spin_until(executor, lambda: node.filter.counters["command_gap"] == 1)
        assert not node.get_parameter("enabled").value and len(probe.got["arm/command"]) == n
        assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
        command(probe, [0.1, 0.2, 0.3])
        assert spin_until(executor, lambda: len(probe.got["arm/command"]) == n + 1)
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_nan_stale_and_missing_heartbeat_are_held(ros):
    node = make("float64_array", enabled=True, heartbeat_timeout=2.0)
    executor, probe = graph(node, Float64MultiArray)
    try:
        assert spin_until(executor, lambda: probe.subscribers("amplify/command") > 0 or command(probe, [0.0, 0.0, 0.0]))
        command(probe, [0.0, 0.0, 0.0])
        assert spin_until(executor, lambda: node.filter.counters["no_heartbeat"] >= 1)
        probe.send(Bool, "heartbeat", Bool(data=True))
        assert spin_until(executor, lambda: node.filter.counters["no_heartbeat"] >= 1 and node._heartbeat is not None)
        command(probe, [0.0, float("nan"), 0.0])
        command(probe, [0.0, 0.0, 0.0], age=2.0)  # computed from a 2 s old image
        assert spin_until(executor, lambda: node.filter.counters["non_finite"] == 1 and node.filter.counters["stale_image"] == 1)
        assert not probe.got["arm/command"]
        probe.send(Bool, "heartbeat", Bool(data=True))  # fresh again, however slow this machine is
        command(probe, [0.5, -0.5, 0.25])
        assert spin_until(executor, lambda: bool(probe.got["arm/command"]))
        assert list(probe.got["arm/command"][-1].data) == [0.5, -0.5, 0.25]
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_velocity_limit_steps_from_the_current_state(ros):
    node = make("float64_array", enabled=True, state_names=JOINTS, max_velocity=[0.1], period=0.1)
    executor, probe = graph(node, Float64MultiArray)
    try:
        assert spin_until(executor, lambda: probe.subscribers("joint_states") > 0 or probe.send(
            JointState, "joint_states", joint_state(time.time(), JOINTS, [0, 0, 0]), qos_profile_sensor_data))
        probe.send(JointState, "joint_states", joint_state(time.time(), JOINTS, [0.0, 0.2, 0.0]), qos_profile_sensor_data)
        assert spin_until(executor, lambda: node._state is not None)
        command(probe, [0.5, 0.2, -0.5])
        assert spin_until(executor, lambda: bool(probe.got["arm/command"]))
        assert list(probe.got["arm/command"][-1].data) == pytest.approx([0.01, 0.2, -0.01])  # 0.1 per s x 0.1 s
        command(probe, [0.5, 0.2, -0.5])
        assert spin_until(executor, lambda: len(probe.got["arm/command"]) == 2)
        assert list(probe.got["arm/command"][-1].data) == pytest.approx([0.02, 0.2, -0.02])  # from the last command sent
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_twist_output_for_moveit_servo(ros):
    names = ["ee_dx", "ee_dy", "ee_dz", "gripper"]
    node = make("twist", enabled=True, joint_names=names, lower=[-0.5] * 4, upper=[0.5] * 4, frame_id="tool0")
    executor, probe = graph(node, TwistStamped)
    try:
        def send():
            probe.send(JointTrajectory, "amplify/command", chunk_to_trajectory(np.array([[0.2, -0.9, 0.0, 1.0]]), names, 0.05, header(time.time())))

        assert spin_until(executor, lambda: bool(probe.got["arm/command"]) or send())
        msg = probe.got["arm/command"][-1]
        assert (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) == pytest.approx((0.2, -0.5, 0.0))
        assert msg.header.frame_id == "tool0"
    finally:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()


def test_misconfigured_limits_refuse_to_start(ros):
    with pytest.raises(ValueError, match="lower needs 3 values"):
        make(lower=[-1.0, -1.0])
    with pytest.raises(ValueError, match="joint_names is empty"):
        ArmOutputNode()
