"""The safety filter: holds with a reason and a count, clamps, the e-stop latch and the gate."""

import numpy as np
import pytest

from amplify_ros.control.safety import SafetyConfig, SafetyFilter

JOINTS = SafetyConfig(size=2, period=0.1, lower=[-1.0, -2.0], upper=[1.0, 2.0], max_velocity=[1.0, 10.0])
NOW = 100.0


def fresh(config=JOINTS, state=(0.0, 0.0)) -> tuple[SafetyFilter, dict]:
    """An enabled filter and the keyword arguments of inputs that just arrived."""
    f = SafetyFilter(config)
    f.enable()
    return f, {"now": NOW, "image_time": NOW - 0.01, "state_time": NOW - 0.01, "state": state}


def test_the_gate_starts_closed_and_holds_without_counting_as_sent():
    f = SafetyFilter(JOINTS)
    assert not f.enabled
    v = f.check([0.0, 0.0], now=NOW, image_time=NOW, state_time=NOW, state=[0, 0])
    assert (
        v.command is None
        and v.reason.startswith("disabled")
        and f.counters["disabled"] == 1
        and f.counters["sent"] == 0
    )


@pytest.mark.parametrize("bad", [[np.nan, 0.0], [0.0, np.inf], [0.0, -np.inf]])
def test_non_finite_commands_are_refused(bad):
    f, inputs = fresh()
    v = f.check(bad, **inputs)
    assert v.command is None and v.reason.startswith("non_finite") and f.counters["non_finite"] == 1


def test_wrong_sized_commands_are_refused():
    f, inputs = fresh()
    assert f.check([0.0, 0.0, 0.0], **inputs).reason == "wrong_size: 3 values, expected 2"


def test_out_of_limit_targets_are_clamped_then_rate_limited():
    f, inputs = fresh(SafetyConfig(size=2, period=0.1, lower=[-1.0, -2.0], upper=[1.0, 2.0]))
    v = f.check([5.0, -0.5], **inputs)
    assert v.command.tolist() == [1.0, -0.5] and v.reason.startswith("clamped_limits: values [0]")
    f, inputs = fresh()
    v = f.check([5.0, -0.5], **inputs)  # limit 1.0, then at most 1.0 rad/s * 0.1 s from the state 0.0
    assert (
        v.command == pytest.approx([0.1, -0.5]) and f.counters["clamped_limits"] == f.counters["clamped_velocity"] == 1
    )
    v = f.check([5.0, 1.5], **inputs)  # the reference is now the last command sent
    assert v.command == pytest.approx([0.2, 0.5])
    assert f.counters["sent"] == 2


def test_the_callers_array_is_left_alone():
    f, inputs = fresh()
    command = np.array([5.0, 0.0])
    f.check(command, **inputs)
    assert command.tolist() == [5.0, 0.0]


def test_the_first_rate_limited_command_needs_the_current_state():
    f, inputs = fresh(state=None)
    assert f.check([0.0, 0.0], **inputs).reason.startswith("no_reference")


def test_workspace_bounds_clamp_cartesian_targets_but_not_the_gripper():
    config = SafetyConfig(size=4, period=0.1, workspace_lower=[-0.5, -0.5, 0.05], workspace_upper=[0.5, 0.5, 0.8])
    f, inputs = fresh(config, state=None)
    v = f.check([0.7, 0.0, -0.2, 3.0], **inputs)
    assert v.command.tolist() == [0.5, 0.0, 0.05, 3.0] and f.counters["clamped_workspace"] == 1


@pytest.mark.parametrize(
    ("field", "late", "name"),
    [("image_time", 0.6, "stale_image"), ("state_time", 0.6, "stale_state"), ("state_time", -0.6, "stale_state")],
)
def test_stale_inputs_hold(field, late, name):
    f, inputs = fresh()
    inputs[field] = NOW - late
    v = f.check([0.0, 0.0], **inputs)
    assert v.command is None and v.reason.startswith(name) and f.counters[name] == 1
    assert ("future" in v.reason) == (late < 0)
    inputs[field] = None  # nothing received at all
    assert f.check([0.0, 0.0], **inputs).reason == f"{name}: no {field[:5]} yet"


def test_a_missing_heartbeat_holds_until_one_arrives():
    f, inputs = fresh(SafetyConfig(size=2, period=0.1, heartbeat_timeout=0.5))
    assert f.check([0.0, 0.0], **inputs).reason == "no_heartbeat: no heartbeat yet"
    assert f.check([0.0, 0.0], heartbeat_time=NOW - 0.7, **inputs).command is None
    assert f.check([0.0, 0.0], heartbeat_time=NOW - 0.2, **inputs).command is not None
    assert f.counters["no_heartbeat"] == 2 and f.counters["sent"] == 1


def test_the_estop_latches_until_reset_and_reset_needs_a_new_enable():
    f, inputs = fresh()
    f.estop("operator pressed the button")
    for _ in range(3):
        v = f.check([0.0, 0.0], **inputs)
        assert v.command is None and "operator pressed the button" in v.reason
    f.enable()  # enabling does not clear the latch
    assert f.check([0.0, 0.0], **inputs).reason.startswith("estop")
    f.reset()
    assert not f.estopped and f.check([0.0, 0.0], **inputs).reason.startswith("disabled")
    f.enable()
    assert f.check([0.0, 0.0], **inputs).command is not None
    assert f.counters["estop"] == 4 and f.counters["disabled"] == 1


def test_inconsistent_configs_name_the_field():
    with pytest.raises(ValueError, match="lower needs 2 values"):
        SafetyConfig(size=2, period=0.1, lower=[0.0])
    with pytest.raises(ValueError, match="max_velocity must be > 0"):
        SafetyConfig(size=2, period=0.1, max_velocity=0.0)
    with pytest.raises(ValueError, match="workspace_lower and workspace_upper go together"):
        SafetyConfig(size=3, period=0.1, workspace_lower=[0, 0, 0])


def test_a_gap_in_the_command_stream_closes_the_gate_until_enabled_again():
    f = SafetyFilter(SafetyConfig(size=1, period=0.1, max_command_gap=0.5, max_image_age=None, max_state_age=None))
    f.enable()
    assert f.check([0.1], now=10.0).command is not None
    assert f.check([0.1], now=10.4).command is not None  # within the gap
    v = f.check([0.1], now=11.0)  # 0.6 s: the policy died and came back
    assert v.command is None and v.reason.startswith("command_gap") and not f.enabled and f.counters["command_gap"] == 1
    assert f.check([0.1], now=11.05).reason.startswith("disabled")  # its next commands too
    f.enable()
    assert f.check([0.1], now=30.0).command is not None  # enabling starts a new stream: no gap to measure
