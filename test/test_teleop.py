"""Teleoperation without ROS: twist -> action mapping, and which frame each input commands."""

import numpy as np
import pytest

from amplify_ros.control.teleop import FramePairing, TwistMapping, action_twist
from amplify_ros.data.image_msgs import cdr_stamp


def test_twist_maps_to_a_scaled_clipped_action_with_the_gripper_on_its_axis():
    m = TwistMapping(4, linear_scale=2.0, gripper_scale=-1.0, gripper_axis="angular.x")
    assert m.action((0.1, -0.7, 0.25), (0.3, 0.0, 0.9)).tolist() == pytest.approx([0.2, -1.0, 0.5, -0.3])
    assert TwistMapping(3).action((2.0, 0.5, -3.0), (0.0, 0.0, 1.0)).tolist() == [1.0, 0.5, -1.0]
    with pytest.raises(ValueError, match="not finite"):
        m.action((np.nan, 0.0, 0.0), (0.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="3 action values"):
        TwistMapping(7)
    with pytest.raises(ValueError, match="gripper_axis"):
        TwistMapping(4, gripper_axis="linear.z")


def test_action_twist_is_what_the_default_mapping_turns_back_into_the_action():
    action = np.array([0.3, -1.7, 0.05, 0.8])  # an expert action may exceed [-1, 1]; the arm clips it
    twist = action_twist(action)
    assert twist.angular == (0.0, 0.0, 0.8)
    assert TwistMapping(4).action(twist.linear, twist.angular).tolist() == pytest.approx([0.3, -1.0, 0.05, 0.8])


A, B = np.array([0.1, 0.0, 0.0, 1.0]), np.array([0.2, 0.0, 0.0, -1.0])


def test_an_input_stamped_for_a_frame_may_arrive_before_it_and_commands_only_that_frame():
    pairing = FramePairing(max_age=0.5)
    assert pairing.input(A, 100, now=0.0) is None  # the expert's twist for frame 100 came first
    (action, stamp), missed = pairing.frame(100, now=0.01)
    assert stamp == 100 and action is A and not missed
    assert pairing.input(A, 100, now=0.02) is None  # each frame is commanded once
    assert pairing.frame(200, now=0.03) == (None, False)  # the twist for 100 does not belong to frame 200
    assert pairing.input(B, 200, now=0.04)[1] == 200


def test_an_unstamped_input_commands_the_frame_it_follows():
    pairing = FramePairing(max_age=0.5)
    pairing.input(A, None, now=0.0)
    assert pairing.frame(100, now=0.01) == (None, False)  # received before the frame: not for it
    assert pairing.input(B, None, now=0.02) == (B, 100)


def test_stale_input_commands_nothing_and_a_frame_left_without_command_is_reported():
    pairing = FramePairing(max_age=0.5)
    pairing.input(A, 300, now=0.0)
    assert pairing.frame(200, now=1.0) == (None, False)  # stamped for it, but 1 s old
    assert pairing.frame(300, now=1.1) == (None, True)  # frame 200 went without a command
    assert pairing.input(B, None, now=1.2) == (B, 300)  # fresh input again


def test_a_frame_published_again_is_commanded_again():
    pairing = FramePairing(max_age=0.5)
    pairing.input(A, 100, now=0.0)
    assert pairing.frame(100, now=0.0)[0][1] == 100
    assert pairing.frame(100, now=0.2)[0][1] == 100  # a lockstep bridge re-sent it: its command was lost


def test_cdr_stamp_reads_the_header_of_either_byte_order():
    le = (
        b"\x00\x01\x00\x00"
        + (12).to_bytes(4, "little", signed=True)
        + (345).to_bytes(4, "little")
        + b"\x04\x00\x00\x00cam\x00"
    )
    be = b"\x00\x00\x00\x00" + (12).to_bytes(4, "big", signed=True) + (345).to_bytes(4, "big")
    assert cdr_stamp(le) == cdr_stamp(be) == 12_000_000_345
    with pytest.raises(ValueError, match="cannot hold"):
        cdr_stamp(b"\x00\x01\x00\x00")
