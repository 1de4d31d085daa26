"""Keyboard teleoperation without ROS: keys -> twists, the dead man's switch, escape sequences."""

import pytest

from amplify_ros.control.keyboard import KeyboardTwist


def test_a_motion_key_moves_along_its_axis_until_hold_runs_out_after_its_last_repeat():
    keys = KeyboardTwist(speed=0.5, hold=0.6)
    assert keys.twist(0.0) is None  # nothing pressed: nothing to send
    assert keys.feed("w", 0.0)
    assert keys.twist(0.1).linear == (0.5, 0.0, 0.0) and keys.twist(0.1).angular == (0.0, 0.0, -1.0)  # gripper open
    assert not keys.feed("w", 0.5)  # an autorepeat: no change to report, but it extends the hold
    assert keys.twist(1.0).linear == (0.5, 0.0, 0.0)
    assert keys.twist(1.1) is None  # released: stopped within hold of the last repeat
    keys.feed("F", 2.0)  # upper case is the same key
    assert keys.twist(2.0).linear == (0.0, 0.0, -0.5)
    keys.feed("a", 2.1)  # a new key replaces the motion
    assert keys.twist(2.2).linear == (0.0, 0.5, 0.0)
    keys.feed(" ", 2.3)  # stop now
    assert keys.twist(2.3) is None and keys.status(2.3).endswith("stopped")


def test_the_gripper_toggles_and_stays_and_is_sent_for_hold_after_each_press():
    keys = KeyboardTwist(hold=0.5)
    keys.feed("g", 0.0)
    assert (
        keys.twist(0.2) is not None and keys.twist(0.2).linear == (0.0, 0.0, 0.0) and keys.twist(0.2).angular[2] == 1.0
    )
    assert keys.twist(0.6) is None
    keys.feed("d", 1.0)
    assert keys.twist(1.0).angular[2] == 1.0 and keys.twist(1.0).linear == (0.0, -0.5, 0.0)  # still closed while moving
    keys.feed("g", 1.1)
    assert keys.twist(1.2).angular[2] == -1.0 and keys.idle_twist().angular[2] == -1.0
    assert "gripper open" in keys.status(1.2)
    keys.feed("g", 5.0)  # the d motion's hold ran out long ago, though no twist() was asked for since
    assert keys.twist(5.0).linear == (0.0, 0.0, 0.0) and keys.twist(5.0).angular[2] == 1.0


def test_speed_keys_scale_within_bounds():
    keys = KeyboardTwist(speed=0.8)
    keys.feed("+++", 0.0)
    assert keys.state.speed == 1.0
    keys.feed("-" * 40, 0.0)
    assert keys.state.speed == pytest.approx(0.05)
    keys.feed("=r", 0.0)
    assert keys.twist(0.0).linear[2] == pytest.approx(0.0625)


def test_escape_sequences_are_skipped_whole_even_across_reads():
    keys = KeyboardTwist()
    assert not keys.feed("\x1b[A\x1b[1;5D\x1bOP", 0.0)  # up arrow, ctrl+left, F1: their letters are no keys
    assert keys.twist(0.0) is None
    keys.feed("\x1b[", 0.0)  # a sequence split between two reads
    assert not keys.feed("D", 0.0) and keys.twist(0.0) is None
    assert not keys.feed("\x1bw", 0.0)  # Alt+w
    keys.feed("xyz?s", 0.0)  # unknown keys do nothing; s does
    assert keys.twist(0.0).linear == (-0.5, 0.0, 0.0)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="speed"):
        KeyboardTwist(speed=2.0)
    with pytest.raises(ValueError, match="hold"):
        KeyboardTwist(hold=0.0)
