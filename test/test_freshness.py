"""The freshness check every model node makes before inference (no ROS)."""

import numpy as np

from amplify_ros.control.freshness import refuse_reason

STATE = np.zeros(4)


def test_fresh_inputs_pass_and_each_problem_is_named_by_kind():
    assert refuse_reason(10.0, 9.8, 0.5, STATE, 9.8, 0.1) == ("", "")
    assert refuse_reason(10.0, 9.0, 0.5) == ("stale_image", "stale image: 1000 ms old (max_image_age 500 ms)")
    assert refuse_reason(10.0, 9.8, 0.5) == ("", "")  # no state needed
    assert refuse_reason(10.0, 9.8, 0.5, None, None, 0.1) == ("no_state", "no robot state received yet")
    assert refuse_reason(10.0, 9.8, 0.5, STATE, 9.5, 0.1)[0] == "stale_state"
    kind, reason = refuse_reason(10.0, 9.8, 0.5, np.array([0.0, np.nan, 0.0, 0.0]), 9.8, 0.1)
    assert kind == "bad_state" and "not finite" in reason
