"""Malformed messages into every node that runs without hardware: no exit, nothing published
from them, every one refused and counted (test/fuzz_nodes.py drives the callbacks); the counts
reach /diagnostics; and the validation behind it, one fault at a time."""

import time

import fuzz_nodes
import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from messages import image
from rclpy.parameter import Parameter
from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image, JointState
from tiny import tiny_policy_checkpoint

from amplify_ros.control.freshness import refuse_reason
from amplify_ros.control.safety import SafetyConfig, SafetyFilter
from amplify_ros.control.teleop import TwistMapping
from amplify_ros.data.image_msgs import cdr_stamp
from amplify_ros.nodes.malformed_msgs import FAULTS, Shape, malformed, malformed_one
from amplify_ros.nodes.stamps import header_at
from amplify_ros.nodes.state_msgs import joint_reading, joint_vector
from amplify_ros.nodes.tracker_node import TrackerNode

NAMES = ["a", "b"]


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    return {"amplify": tiny_policy_checkpoint(tmp_path_factory.mktemp("ckpt"))}


@pytest.mark.parametrize("name", fuzz_nodes.NODES)
def test_a_node_survives_malformed_messages_publishes_nothing_from_them_and_counts_each(ros, checkpoints, name):
    for report in fuzz_nodes.fuzz_node(name, checkpoints, count=200):
        summary = report.as_dict()
        assert report.sent == 200 and report.exits == 0, summary
        assert report.published_from_malformed == 0 and report.uncounted == 0, summary
        assert report.valid_sent == 8 and report.valid_processed == 8, summary  # alive throughout
        assert sum(report.refusals.values()) >= report.sent - report.accepted_by_design, summary


def test_every_fault_of_every_kind_builds_a_message():
    stamps = iter(range(10**9, 2 * 10**9, 1000))
    for kind, faults in FAULTS.items():
        got = list(malformed(kind, np.random.default_rng(0), 2 * len(faults), lambda: next(stamps)))
        assert sorted({m.fault for m in got}) == sorted(f"{kind}/{f}" for f in faults)


def test_refusals_of_malformed_frames_reach_diagnostics_and_a_valid_frame_is_still_tracked(ros):
    node = ros.start(TrackerNode, Parameter("image_qos", value="reliable"), Parameter("image_size", value=32))
    diagnostics = ros.listen(DiagnosticArray, "/diagnostics")
    camera = ros.publisher(Image, "camera/image_raw")
    rng = np.random.default_rng(0)
    ros.connected()
    camera.publish(image(time.time()))
    ros.spin_until(lambda: node.health.processed == 1, "the first frame to be tracked")
    for n, fault in enumerate(("zero_size", "huge_dims", "unknown_encoding", "far_future_stamp", "bad_nanosec"), 1):
        camera.publish(malformed_one("image", fault, time.time_ns(), Shape(), rng))
        ros.spin_until(
            lambda: sum(node.health.dropped.values()) == n, f"the {fault} frame to be refused"
        )  # one at a time
    assert node.health.dropped == {"bad_image": 3, "future_stamp": 1, "bad_stamp": 1}
    assert node.health.processed == 1  # none of them was tracked
    camera.publish(image(time.time()))
    ros.spin_until(lambda: node.health.processed == 2, "the valid frame after them to be tracked")

    def shown() -> bool:
        values = {v.key: v.value for d in diagnostics for s in d.status for v in s.values}
        return values.get("dropped_bad_image") == "3" and values.get("dropped_future_stamp") == "1"

    ros.spin_until(shown, "the refusals on /diagnostics")


def test_an_image_stamped_in_the_future_is_not_fresh():
    assert refuse_reason(10.0, 9.8, 0.5) == ("", "")
    kind, reason = refuse_reason(10.0, 1e6, 0.5)
    assert kind == "stale_image" and "in the future" in reason


@pytest.mark.parametrize(
    "names, position, velocity, match",
    [
        (["a", "a"], [0.0, 1.0], [], "twice"),
        (["a", "b"], [0.0], [], "2 names but 1 position"),
        (["a", "b"], [0.0, 1.0], [0.0], "2 names but 1 velocity"),
        (["a", "b"], [0.0, float("nan")], [], "not finite"),
        (["a", "b"], [0.0, 1e30], [], "beyond"),
        (["b"], [0.0], [], "lacks"),
    ],
)
def test_a_malformed_joint_state_is_refused_with_the_reason(names, position, velocity, match):
    with pytest.raises(ValueError, match=match):
        joint_vector(JointState(name=names, position=position, velocity=velocity), NAMES)


def test_a_joint_state_stamped_far_ahead_or_with_a_corrupt_stamp_is_refused():
    msg = JointState(header=header_at(100 * 10**9), name=NAMES, position=[0.0, 1.0])
    assert joint_reading(msg, NAMES, now=99.9, max_ahead=0.2)[1] == 100.0
    with pytest.raises(ValueError, match="in the future"):
        joint_reading(msg, NAMES, now=10.0, max_ahead=0.2)
    msg.header.stamp.nanosec = 2_000_000_000
    with pytest.raises(ValueError, match="corrupt"):
        joint_reading(msg, NAMES, now=100.0, max_ahead=0.2)


def test_a_raw_frame_with_a_corrupt_stamp_is_refused():
    frame = serialize_message(image(5.0))
    assert cdr_stamp(frame) == 5 * 10**9
    for fault in ("bad_nanosec", "truncated_header"):
        with pytest.raises(ValueError):
            cdr_stamp(malformed_one("raw_frame", fault, 5 * 10**9, Shape(), np.random.default_rng(0)))


def test_a_twist_of_1e30_is_refused_not_clipped_to_full_speed():
    mapping = TwistMapping(dims=4)
    assert mapping.action((2.0, 0.0, 0.0), (0.0, 0.0, 0.0)).tolist() == [1.0, 0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="beyond"):
        mapping.action((1e30, 0.0, 0.0), (0.0, 0.0, 0.0))


def test_the_safety_filter_holds_implausible_commands_and_needs_a_finite_reference():
    f = SafetyFilter(SafetyConfig(size=2, period=0.1, lower=[-1, -1], upper=[1, 1], max_velocity=1.0))
    f.enable()
    assert f.check([1e30, 0.0], now=0.0, image_time=0.0, state_time=0.0, state=[0.0, 0.0]).reason.startswith(
        "implausible"
    )
    held = f.check([0.5, 0.0], now=0.0, image_time=0.0, state_time=0.0, state=[float("nan"), 0.0])
    assert held.command is None and held.reason.startswith("no_reference")
    assert f.check([0.5, 0.0], now=0.0, image_time=0.0, state_time=0.0, state=[0.0, 0.0]).command.tolist() == [0.1, 0.0]
