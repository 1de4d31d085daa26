"""The freshness check every model node makes before inference (no ROS)."""

import numpy as np

from amplify_ros.control.freshness import StampedHistory, refuse_reason

STATE = np.zeros(4)


def test_fresh_inputs_pass_and_each_problem_is_named_by_kind():
    assert refuse_reason(10.0, 9.8, 0.5, STATE, 9.8, 0.1) == ("", "")
    assert refuse_reason(10.0, 9.0, 0.5) == ("stale_image", "stale image: 1000 ms old (max_image_age 500 ms)")
    assert refuse_reason(10.0, 9.8, 0.5) == ("", "")  # no state needed
    assert refuse_reason(10.0, 9.8, 0.5, None, None, 0.1) == ("no_state", "no robot state received yet")
    assert refuse_reason(10.0, 9.8, 0.5, STATE, 9.5, 0.1)[0] == "stale_state"
    kind, reason = refuse_reason(10.0, 9.8, 0.5, np.array([0.0, np.nan, 0.0, 0.0]), 9.8, 0.1)
    assert kind == "bad_state" and "not finite" in reason


def test_an_image_gets_the_state_stamped_nearest_to_it():
    history = StampedHistory(size=4)
    assert history.nearest(1.0) is None
    for t in (1.0, 1.1, 1.2, 1.3, 1.4):  # 1.0 falls out: size 4
        history.add(np.full(4, t), t)
    assert history.nearest(1.16)[1] == 1.2 and history.nearest(9.0)[1] == 1.4
    assert history.nearest(0.0)[1] == 1.1  # the oldest kept
    history.add(np.zeros(4), 1.4)
    assert history.nearest(1.4)[0].tolist() == [0.0] * 4  # equally near: the newer


def test_time_going_back_forgets_the_old_timeline():
    history = StampedHistory()
    history.add(np.ones(4), 5.0)
    history.add(np.zeros(4), 0.0)  # e.g. the simulator was reset
    assert history.nearest(5.0)[1] == 0.0
