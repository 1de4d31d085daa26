"""Malformed messages through a node's own subscription callbacks: what it refuses, counts, publishes.

A message is handed to the callback of the node's subscription on its topic, as the executor
would (the CDR bytes for a raw subscription), so a thousand messages take a second and none is
lost on the way; an exception out of a callback (which would end ``rclpy.spin`` and the node) is
caught and counted as an exit. The node's output publishers are wrapped to record what they
publish. Each trial is: valid context (e.g. the robot state for an image), the malformed message,
then what would make the node act on it (e.g. the image paired with a malformed state); anything
published during the malformed message and its follow-up is a command derived from malformed
input. Refusals are read from the node's ``health.dropped`` (and, for arm_output_node, its safety
filter's hold counters, which it puts on /diagnostics). Every ``alive_every`` trials a valid input
must be processed, proving the node still works. Used by test/test_fuzz_nodes.py and
benchmarks/faults.py.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rclpy.node import Node

from amplify_ros.control.safety import REASONS
from amplify_ros.nodes.malformed_msgs import FAULTS, Shape, malformed_one
from amplify_ros.nodes.stamps import stamp_ns

Step = tuple[str, Any]  # topic, message (or bytes)
HOLDS = [r for r in REASONS if not r.startswith("clamped")]


@dataclass
class TopicFuzz:
    """How to fuzz one input topic; each callable gets the trial's stamp (ns) and returns steps."""

    topic: str
    kind: str  # a key of malformed_msgs.FAULTS
    context: Callable[[int], list[Step]] = lambda ns: []
    follow: Callable[[int, Any], list[Step]] = lambda ns, msg: []  # ns, the malformed message
    alive: Callable[[int], list[Step]] = lambda ns: []
    accepted: tuple[str, ...] = ()  # faults this node accepts by design (e.g. old stamps for a tracker)


@dataclass
class TopicReport:
    node: str
    topic: str
    sent: int = 0
    exits: int = 0
    published_from_malformed: int = 0
    uncounted: int = 0  # malformed messages after which no refusal was counted
    accepted_by_design: int = 0
    valid_sent: int = 0
    valid_processed: int = 0
    refusals: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # first few exceptions, and faults that got through

    def as_dict(self) -> dict:
        return {
            "node": self.node,
            "topic": self.topic,
            "sent": self.sent,
            "exits": self.exits,
            "published_from_malformed": self.published_from_malformed,
            "uncounted": self.uncounted,
            "accepted_by_design": self.accepted_by_design,
            "valid_sent": self.valid_sent,
            "valid_processed": self.valid_processed,
            "refusals": dict(sorted(self.refusals.items())),
            "errors": self.errors[:5],
        }


class Fuzzer:
    def __init__(self, node: Node, outputs: list[str], seed: int = 0, shape: Shape | None = None) -> None:
        self.node = node
        self.shape = Shape() if shape is None else shape
        self.rng = np.random.default_rng(seed)
        self.published: list[tuple[str, Any]] = []
        for pub in node.publishers:
            if pub.topic_name.lstrip("/") in outputs:
                pub.publish = lambda msg, t=pub.topic_name: self.published.append((t, msg))
        self._subs = {s.topic_name.lstrip("/"): s for s in node.subscriptions}

    def deliver(self, topic: str, msg: Any) -> None:
        self._subs[topic].callback(msg)

    def refusals(self) -> Counter:
        counts = Counter(self.node.health.dropped)
        safety = getattr(self.node, "filter", None)
        if safety is not None:
            counts.update({k: v for k, v in safety.counters.items() if k in HOLDS and v})
        return counts

    def _run(self, steps: list[Step], report: TopicReport) -> bool:
        """Deliver ``steps``; False after an exception (counted as an exit)."""
        for topic, msg in steps:
            try:
                self.deliver(topic, msg)
            except Exception as err:  # noqa: BLE001 - any exception out of a callback ends the node
                report.exits += 1
                report.errors.append(f"{type(err).__name__}: {err}")
                return False
        return True

    def fuzz(self, spec: TopicFuzz, count: int, stamps: Callable[[], int], alive_every: int = 25) -> TopicReport:
        report = TopicReport(self.node.get_name(), spec.topic)
        faults = FAULTS[spec.kind]
        before = self.refusals()
        for i in range(count):
            ns = stamps()
            fault = faults[i % len(faults)]
            self._run(spec.context(ns), report)
            msg = malformed_one(spec.kind, fault, ns, self.shape, self.rng)
            counted, n_out = sum(self.refusals().values()), len(self.published)
            report.sent += 1
            self._run([(spec.topic, msg), *spec.follow(ns, msg)], report)
            if fault in spec.accepted:
                report.accepted_by_design += 1
            elif len(self.published) > n_out:
                report.published_from_malformed += 1
                report.errors.append(f"published after {spec.kind}/{fault}")
            elif sum(self.refusals().values()) == counted:
                report.uncounted += 1
                report.errors.append(f"nothing counted for {spec.kind}/{fault}")
            if (i + 1) % alive_every == 0 and (steps := spec.alive(stamps())):
                processed = self.node.health.processed
                report.valid_sent += 1
                self._run(steps, report)
                report.valid_processed += self.node.health.processed > processed
        report.refusals = self.refusals() - before
        return report


def stamp_clock(start: float | None = None, step: float = 0.5) -> Callable[[], int]:
    """Stamps (ns) from ``start`` (s; None: the wall clock at each call, strictly increasing),
    ``step`` seconds apart."""
    last = [0]

    def next_stamp() -> int:
        if start is None:
            last[0] = max(time.time_ns(), last[0] + 1000)
        else:
            last[0] = int(start * 1e9) if not last[0] else last[0] + int(step * 1e9)
        return last[0]

    return next_stamp


def header_ns(msg: Any) -> int:
    return stamp_ns(msg.header)


# --- the nodes ----------------------------------------------------------------------------------
NAMES = list(Shape().joints)  # policy proprio, as test/tiny.py's checkpoints take it
JOINTS = list(Shape().actions)  # arm_output_node's command values
MODEL_OUTPUTS = ["amplify/action_chunk", "amplify/command", "amplify/motion_tokens", "amplify/predicted_tracks"]
# model nodes' valid stamps start this long ago, 0.25 s apart (> max_state_age): no state pairs
# with another trial's image
PAST = 3_000.0


def _valid(kind: str, rng: np.random.Generator, shape: Shape | None = None):
    from amplify_ros.nodes.malformed_msgs import VALID

    shape = Shape() if shape is None else shape
    return lambda ns: VALID[kind](ns, shape, rng)


def node_specs(name: str, checkpoints: dict[str, Any]) -> tuple[Node, list[str], list[TopicFuzz], Callable[[], int]]:
    """(node, output topics, topic specs, stamp clock) of node ``name``; needs rclpy initialised.
    ``checkpoints``: "amplify" (a policy checkpoint with forward/) for the model nodes."""
    from rclpy.parameter import Parameter
    from std_msgs.msg import String

    rng = np.random.default_rng(1)
    image, state, tokens = _valid("image", rng), _valid("joint_state", rng), _valid("tokens", rng)
    trajectory, twist, raw = _valid("trajectory", rng), _valid("twist", rng), _valid("raw_frame", rng)
    past = stamp_clock(time.time() - PAST, step=0.25)
    model = [
        Parameter("checkpoint", value=str(checkpoints.get("amplify", ""))),
        Parameter("state_names", value=NAMES),
        Parameter("max_image_age", value=3600.0),
        Parameter("publish_tracks", value=False),
    ]
    if name == "policy_node":
        from amplify_ros.nodes.policy_node import PolicyNode

        node = PolicyNode(parameter_overrides=model)
        node.acting.on_task(String(data="press the button"))
        specs = [
            TopicFuzz(
                "camera/image_raw",
                "image",
                context=lambda ns: [("joint_states", state(ns))],
                alive=lambda ns: [("joint_states", state(ns)), ("camera/image_raw", image(ns))],
            ),
            TopicFuzz(
                "joint_states",
                "joint_state",
                follow=lambda ns, m: [("camera/image_raw", image(ns))],
                alive=lambda ns: [("joint_states", state(ns)), ("camera/image_raw", image(ns))],
            ),
        ]
        return node, MODEL_OUTPUTS, specs, past
    if name == "forward_node":
        from amplify_ros.nodes.forward_node import ForwardNode

        node = ForwardNode(parameter_overrides=[model[0], model[2], model[3]])
        node.on_task(String(data="press the button"))
        return (
            node,
            MODEL_OUTPUTS,
            [TopicFuzz("camera/image_raw", "image", alive=lambda ns: [("camera/image_raw", image(ns))])],
            past,
        )
    if name == "inverse_node":
        from amplify_ros.nodes.inverse_node import InverseNode

        node = InverseNode(parameter_overrides=model[:3])
        node.acting.on_task(String(data="press the button"))

        def whole(ns):
            return [
                ("joint_states", state(ns)),
                ("camera/image_raw", image(ns)),
                ("amplify/motion_tokens", tokens(ns)),
            ]

        specs = [
            TopicFuzz(
                "camera/image_raw",
                "image",
                context=lambda ns: [("joint_states", state(ns))],
                follow=lambda ns, m: [("amplify/motion_tokens", tokens(header_ns(m)))],
                alive=whole,
            ),
            TopicFuzz(
                "joint_states",
                "joint_state",
                follow=lambda ns, m: [("camera/image_raw", image(ns)), ("amplify/motion_tokens", tokens(ns))],
                alive=whole,
            ),
            TopicFuzz(
                "amplify/motion_tokens",
                "tokens",
                context=lambda ns: [("joint_states", state(ns)), ("camera/image_raw", image(ns))],
                alive=whole,
            ),
        ]
        return node, MODEL_OUTPUTS, specs, past
    if name == "tracker_node":
        from amplify_ros.nodes.tracker_node import TrackerNode

        node = TrackerNode(parameter_overrides=[Parameter("image_size", value=32)])
        # frames stamped long ago are normal here (a bag replayed, simulation time from 0): tracked by design
        return (
            node,
            ["amplify/tracks"],
            [
                TopicFuzz(
                    "camera/image_raw",
                    "image",
                    alive=lambda ns: [("camera/image_raw", image(ns))],
                    accepted=("past_stamp",),
                )
            ],
            past,
        )
    if name == "arm_output_node":
        from amplify_ros.nodes.arm_output_node import ArmOutputNode

        node = ArmOutputNode(
            parameter_overrides=[
                Parameter("joint_names", value=JOINTS),
                Parameter("state_names", value=JOINTS),
                Parameter("lower", value=[-1.0] * 3),
                Parameter("upper", value=[1.0] * 3),
                Parameter("output_type", value="float64_array"),
                Parameter("enabled", value=True),
            ]
        )
        arm_state = lambda ns: state(ns).__class__(header=state(ns).header, name=JOINTS, position=[0.0] * 3)  # noqa: E731
        fresh = lambda ns: [("joint_states", arm_state(ns)), ("amplify/command", trajectory(ns))]  # noqa: E731
        specs = [
            TopicFuzz(
                "amplify/command", "trajectory", context=lambda ns: [("joint_states", arm_state(ns))], alive=fresh
            ),
            TopicFuzz("joint_states", "joint_state", alive=fresh),
        ]
        return node, ["arm/command"], specs, stamp_clock()
    if name == "teleop_node":
        from amplify_ros.nodes.teleop_node import TeleopNode

        node = TeleopNode(parameter_overrides=[Parameter("input_type", value="twist_stamped")])
        stamped = _valid("twist_stamped", rng)
        return (
            node,
            ["amplify/command"],
            [TopicFuzz("cmd_vel", "twist_stamped", alive=lambda ns: [("cmd_vel", stamped(ns))])],
            stamp_clock(),
        )
    if name == "teleop_node_camera":
        from amplify_ros.nodes.teleop_node import TeleopNode

        node = TeleopNode(parameter_overrides=[Parameter("stamp_from_camera", value=True)])
        # an unstamped twist commands the newest frame received before it
        pair = lambda ns: [("camera/image_raw", raw(ns)), ("cmd_vel", twist(ns))]  # noqa: E731
        specs = [
            TopicFuzz("camera/image_raw", "raw_frame", follow=lambda ns, m: [("cmd_vel", twist(ns))], alive=pair),
            TopicFuzz("cmd_vel", "twist", context=lambda ns: [("camera/image_raw", raw(ns))], alive=pair),
        ]
        return node, ["amplify/command"], specs, stamp_clock()
    raise ValueError(f"no fuzz setup for {name!r}")


NODES = (
    "policy_node",
    "forward_node",
    "inverse_node",
    "tracker_node",
    "arm_output_node",
    "teleop_node",
    "teleop_node_camera",
)


def fuzz_node(name: str, checkpoints: dict[str, Any], count: int, seed: int = 0) -> list[TopicReport]:
    """Every input topic of node ``name``, ``count`` malformed messages each; the node is destroyed after."""
    node, outputs, specs, stamps = node_specs(name, checkpoints)
    try:
        fuzzer = Fuzzer(node, outputs, seed)
        reports = [fuzzer.fuzz(spec, count, stamps) for spec in specs]
        for report in reports:
            report.node = name
        return reports
    finally:
        node.destroy_node()
