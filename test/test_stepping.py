"""The sim bridge's schedule without ROS or MuJoCo: the wall clock is passed in."""

import numpy as np
import pytest

from amplify_ros.sim.stepping import StepSchedule

ACTION = np.array([0.1, 0.0, 0.0, 1.0])


def test_lockstep_waits_for_the_frames_command_and_resends_the_frame_after_the_timeout():
    s = StepSchedule("lockstep", command_timeout=1.0, reset_pause=0.2)
    s.start_episode(now=10.0)
    assert not s.tick(10.1).publish  # the reset pause: nodes are still taking in the task
    assert s.tick(10.2).publish and s.awaiting_first_frame
    s.frame_sent(stamp=0.0, now=10.2)
    assert not s.command(ACTION, stamp=0.05, now=10.3)  # stamped with another frame: kept, not stepped
    assert s.tick(10.9) == s.tick(10.9) and not s.tick(10.9).publish
    again = s.tick(11.3)
    assert again.publish and again.refusal == "command_timeout" and again.action is None
    assert s.command(ACTION, stamp=0.0, now=11.4)  # the frame's own command: step now
    s.finished = True
    assert not s.command(ACTION, stamp=0.0, now=11.5) and not s.tick(20.0).publish


def test_lockstep_holds_the_first_frame_until_something_can_answer_it_then_pauses_afresh():
    s = StepSchedule("lockstep", command_timeout=1.0, reset_pause=0.2)
    s.start_episode(now=0.0)
    held = s.tick(0.3, answerable=lambda: False)
    assert held.waiting and not held.publish
    assert not s.tick(0.4).publish  # a policy appeared: the pause counts from the last held tick
    assert s.tick(0.5).publish and not s.tick(0.5).waiting
    s.frame_sent(stamp=0.0, now=0.5)
    assert not s.tick(2.0, answerable=lambda: False).waiting  # only the first frame waits


def test_realtime_steps_every_tick_with_a_fresh_command_or_holds_still():
    s = StepSchedule("realtime", command_timeout=0.1, reset_pause=0.0)
    s.start_episode(now=0.0)
    first = s.tick(0.0)
    assert first.publish and first.action is None  # no frame out yet: nothing to step for
    s.frame_sent(stamp=0.0, now=0.0)
    s.command(ACTION, stamp=0.0, now=0.01)
    step = s.tick(0.05)
    np.testing.assert_array_equal(step.action, ACTION)
    assert step.publish and step.refusal is None
    stale = s.tick(0.5)
    np.testing.assert_array_equal(stale.action, np.zeros(4))
    assert stale.refusal == "no_fresh_command"
    s.start_episode(now=0.6)  # a new episode forgets the last command
    s.frame_sent(stamp=1.0, now=0.6)
    assert s.tick(0.61).refusal == "no_fresh_command"


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="lockstep or realtime"):
        StepSchedule("sometimes", 1.0, 0.2)
