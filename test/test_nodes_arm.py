"""arm_output_node over DDS: the gate, the e-stop latch, limits, staleness, heartbeat, adapters."""

import time

import pytest
from geometry_msgs.msg import TwistStamped
from messages import command, joint_state
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64MultiArray
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.arm_output_node import ArmOutputNode

JOINTS = ["j1", "j2", "j3"]


def make(ros, output_type="joint_trajectory", **params) -> ArmOutputNode:
    overrides = {
        "joint_names": JOINTS,
        "output_type": output_type,
        "lower": [-1.0, -1.0, -1.0],
        "upper": [1.0, 1.0, 1.0],
        **params,
    }
    return ros.start(ArmOutputNode, *(Parameter(k, value=v) for k, v in overrides.items() if v != []))


def inputs(ros, kind=JointTrajectory):
    """(what the arm is sent, a function sending a command of ``values`` computed ``age`` s ago),
    once the command link is matched both ways."""
    out = ros.listen(kind, "arm/command")
    pub = ros.publisher(JointTrajectory, "amplify/command")
    ros.connected()

    def send(values, age=0.0, names=JOINTS) -> None:
        pub.publish(command([values], names, time.time() - age))

    return out, send


def test_gate_estop_and_reset(ros):
    node = make(ros)
    estop = ros.publisher(Bool, "e_stop")
    out, send = inputs(ros)
    estops = ros.handled(node, "e_stop")
    send([0.1, 0.2, 0.3])
    ros.spin_until(lambda: node.filter.counters["disabled"] == 1, "the command to be held: the output is off")
    assert not out  # off by default: nothing moves
    assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
    send([0.1, 2.0, 0.3])
    ros.spin_until(lambda: out, "the first command out")
    assert out[-1].joint_names == JOINTS and list(out[-1].points[0].positions) == [0.1, 1.0, 0.3]  # clamped to upper
    assert out[-1].points[0].time_from_start.nanosec == 50_000_000 and node.filter.counters["clamped_limits"] == 1
    estop.publish(Bool(data=True))
    ros.spin_until(lambda: node.filter.estopped, "the e-stop to latch")
    estop.publish(Bool(data=False))  # releasing the button does not clear the latch
    ros.spin_until(lambda: len(estops) == 2, "the e-stop release to arrive")
    n = len(out)
    send([0.0, 0.0, 0.0])
    ros.spin_until(lambda: node.filter.counters["estop"] == 1, "the command to be held: the e-stop is latched")
    assert len(out) == n
    result = node.set_parameters([Parameter("enabled", value=True)])[0]
    assert not result.successful and "reset_estop" in result.reason
    assert ros.call(Trigger, "amplify_arm_output/reset_estop").success
    assert not node.filter.estopped and not node.filter.enabled  # still off until enabled again
    assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
    send([0.0, 0.0, 0.0])
    ros.spin_until(lambda: len(out) == n + 1, "a command out after the reset")


def test_a_command_after_a_gap_disables_the_output_until_enabled(ros):
    node = make(ros, enabled=True, max_command_gap=0.3)
    out, send = inputs(ros)
    send([0.1, 0.2, 0.3])
    ros.spin_until(lambda: out, "the first command out")
    ros.spin_for(0.5)  # the policy is gone for longer than max_command_gap
    n = len(out)
    send([0.1, 0.2, 0.3])
    ros.spin_until(lambda: node.filter.counters["command_gap"] == 1, "the command after the gap to be held")
    assert not node.get_parameter("enabled").value and len(out) == n
    assert node.set_parameters([Parameter("enabled", value=True)])[0].successful
    send([0.1, 0.2, 0.3])
    ros.spin_until(lambda: len(out) == n + 1, "a command out once enabled again")


def test_nan_stale_and_missing_heartbeat_are_held(ros):
    node = make(ros, "float64_array", enabled=True, heartbeat_timeout=2.0)
    heartbeat = ros.publisher(Bool, "heartbeat")
    out, send = inputs(ros, Float64MultiArray)
    send([0.0, 0.0, 0.0])
    ros.spin_until(lambda: node.filter.counters["no_heartbeat"] == 1, "the command to be held: no heartbeat yet")
    heartbeat.publish(Bool(data=True))
    ros.spin_until(lambda: node._heartbeat is not None, "the heartbeat")
    send([0.0, float("nan"), 0.0])
    send([0.0, 0.0, 0.0], age=2.0)  # computed from a 2 s old image
    ros.spin_until(
        lambda: node.filter.counters["non_finite"] == 1 and node.filter.counters["stale_image"] == 1,
        "the NaN and the stale command to be held",
    )
    assert not out
    heartbeat.publish(Bool(data=True))  # fresh again, however slow this machine is
    send([0.5, -0.5, 0.25])
    ros.spin_until(lambda: out, "the valid command out")
    assert list(out[-1].data) == [0.5, -0.5, 0.25]


def test_velocity_limit_steps_from_the_current_state(ros):
    node = make(ros, "float64_array", enabled=True, state_names=JOINTS, max_velocity=[0.1], period=0.1)
    states = ros.publisher(JointState, "joint_states", qos_profile_sensor_data)
    out, send = inputs(ros, Float64MultiArray)
    ros.spin_until(
        lambda: node._state is not None,
        "the joint state",  # best effort: resent until one arrives
        between=lambda: states.publish(joint_state(time.time(), JOINTS, [0.0, 0.2, 0.0])),
    )
    send([0.5, 0.2, -0.5])
    ros.spin_until(lambda: out, "the first command out")
    assert list(out[-1].data) == pytest.approx([0.01, 0.2, -0.01])  # 0.1 per s x 0.1 s
    send([0.5, 0.2, -0.5])
    ros.spin_until(lambda: len(out) == 2, "the second command out")
    assert list(out[-1].data) == pytest.approx([0.02, 0.2, -0.02])  # from the last command sent


def test_twist_output_for_moveit_servo(ros):
    names = ["ee_dx", "ee_dy", "ee_dz", "gripper"]
    make(ros, "twist", enabled=True, joint_names=names, lower=[-0.5] * 4, upper=[0.5] * 4, frame_id="tool0")
    out, send = inputs(ros, TwistStamped)
    send([0.2, -0.9, 0.0, 1.0], names=names)
    ros.spin_until(lambda: out, "the twist")
    msg = out[-1]
    assert (msg.twist.linear.x, msg.twist.linear.y, msg.twist.linear.z) == pytest.approx((0.2, -0.5, 0.0))
    assert msg.header.frame_id == "tool0"


def test_misconfigured_limits_refuse_to_start(ros):
    with pytest.raises(ValueError, match="lower needs 3 values"):
        make(ros, lower=[-1.0, -1.0])
    with pytest.raises(ValueError, match="joint_names is empty"):
        ArmOutputNode()
