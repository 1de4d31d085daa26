"""A test-side node that publishes inputs and records what the node under test publishes."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable

import numpy as np
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.stamps import header_at


class Probe(Node):
    def __init__(self, name: str = "probe") -> None:
        super().__init__(name)
        self.got: dict[str, list] = defaultdict(list)
        self._pubs: dict[str, object] = {}

    def listen(self, msg_type, topic: str, qos: QoSProfile | int = 10) -> None:
        self.create_subscription(msg_type, topic, lambda m, t=topic: self.got[t].append(m), qos)

    def send(self, msg_type, topic: str, msg, qos: QoSProfile | int = 10) -> None:
        if topic not in self._pubs:
            self._pubs[topic] = self.create_publisher(msg_type, topic, qos)
        self._pubs[topic].publish(msg)

    def subscribers(self, topic: str) -> int:
        return self._pubs[topic].get_subscription_count() if topic in self._pubs else 0


def header(seconds: float, frame: str = "cam") -> Header:
    return header_at(int(round(seconds * 1e9)), frame)


def image(stamp: float, h: int = 48, w: int = 64, encoding: str = "rgb8", seed: int = 0) -> Image:
    rng = np.random.default_rng(seed)
    if encoding == "16UC1":
        return numpy_to_imgmsg(rng.integers(0, 4000, (h, w), dtype=np.uint16), encoding, header(stamp))
    return numpy_to_imgmsg(rng.integers(0, 255, (h, w, 3), dtype=np.uint8), encoding, header(stamp))


def joint_state(stamp: float, names: list[str], values: list[float]) -> JointState:
    return JointState(header=header(stamp), name=names, position=[float(v) for v in values])


def spin_until(executor: Executor, done: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Spin until ``done()`` or the deadline; returns ``done()``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
        if done():
            return True
    return done()


def spin_for(executor: Executor, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        executor.spin_once(timeout_sec=0.05)
