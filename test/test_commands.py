"""Command shaping: field values for each output type, and the messages built from them."""

import pytest
from std_msgs.msg import Header

from amplify_ros.control.commands import array_fields, duration_fields, trajectory_fields, twist_fields
from amplify_ros.nodes.command_msgs import float64_array_msg, joint_trajectory_msg, twist_stamped_msg


def test_a_one_point_trajectory_reaches_the_command_after_time_from_start():
    fields = trajectory_fields([0.1, -0.2], ["shoulder", "elbow"], 0.25)
    msg = joint_trajectory_msg(fields, Header(frame_id="base"))
    assert msg.joint_names == ["shoulder", "elbow"] and len(msg.points) == 1
    assert list(msg.points[0].positions) == [0.1, -0.2]
    assert (msg.points[0].time_from_start.sec, msg.points[0].time_from_start.nanosec) == (0, 250_000_000)
    with pytest.raises(ValueError, match="2 values for 3 joints"):
        trajectory_fields([0.1, -0.2], ["a", "b", "c"], 0.25)
    with pytest.raises(ValueError, match="instant jump"):
        trajectory_fields([0.1], ["a"], 0.0)


def test_durations_split_into_seconds_and_nanoseconds():
    assert duration_fields(2.5) == (2, 500_000_000) and duration_fields(0.0333333) == (0, 33_333_300)


def test_arrays_carry_the_values_as_they_are():
    assert list(float64_array_msg(array_fields([1.0, 2.0, 3.0])).data) == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError, match="one vector"):
        array_fields([[1.0], [2.0]])


def test_twists_from_six_values_or_three_and_a_gripper():
    six = twist_stamped_msg(twist_fields([1, 2, 3, 4, 5, 6]), Header(frame_id="tool"))
    assert (six.twist.linear.z, six.twist.angular.x, six.header.frame_id) == (3.0, 4.0, "tool")
    four = twist_fields([1, 2, 3, -1])
    assert four.linear == (1.0, 2.0, 3.0) and four.angular == (0.0, 0.0, 0.0) and four.gripper == -1.0
    with pytest.raises(ValueError, match="6 values .* or 4"):
        twist_fields([1, 2, 3])
