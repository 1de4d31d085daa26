"""The node-test harness: each test's ROS on a domain no other test holds, spun until what the test
waits for holds or a deadline fails it with what it waited for.

A test takes the ``ros`` fixture (conftest.py): a fresh rclpy context on its own ROS_DOMAIN_ID
(also in the environment, for the processes it starts), a driver node that publishes, listens and
calls services, and one executor that spins the driver and every node under test. Negative
assertions ("nothing was published") come after proof that the input arrived: a counter the node
keeps, or a later message on the same link that did come through.
"""

from __future__ import annotations

import fcntl
import itertools
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import Executor, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import QoSProfile
from rclpy.subscription import Subscription

from amplify_ros.nodes.bringup import stop_executor

DEADLINE = 30.0  # s: generous, CI runs on 2 cores; waits that take longer by nature say so
# 1-76: below the benchmarks' fixed domains (77, 78, 80-99) and above 0, every ROS tool's default
DOMAINS = range(1, 77)
LOCKS = Path(tempfile.gettempdir()) / "amplify_ros_test_domains"
_claims = itertools.count(os.getpid())  # each process starts its search elsewhere, then moves on per test


def wait_until(
    done: Callable[[], object],
    what: str | Callable[[], str],
    timeout: float = DEADLINE,
    step: Callable[[], object] = lambda: time.sleep(0.01),
) -> None:
    """Call ``step`` until ``done()`` is true; past ``timeout`` s fail the test, saying it timed out
    waiting for ``what`` (a callable is called then, e.g. to show a log)."""
    end = time.monotonic() + timeout
    while not done():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}")
        step()


def _lock(domain: int) -> int | None:
    """An open file descriptor holding ``domain``'s lock file, or None when another process holds it."""
    try:
        fd = os.open(LOCKS / str(domain), os.O_CREAT | os.O_RDWR, 0o666)
    except OSError:  # another user's lock file
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextmanager
def claimed_domain() -> Iterator[int]:
    """A ROS_DOMAIN_ID that no other test on this machine uses meanwhile: each is claimed with an
    exclusive lock on a file, which the system releases when the process ends, however it ends."""
    LOCKS.mkdir(exist_ok=True)
    start = next(_claims)
    for k in range(len(DOMAINS)):
        domain = DOMAINS[(start + k) % len(DOMAINS)]
        if (fd := _lock(domain)) is not None:
            break
    else:
        raise RuntimeError(f"every ROS domain in {DOMAINS} is held by another test (lock files in {LOCKS})")
    try:
        yield domain
    finally:
        os.close(fd)


class Ros:
    """One test's ROS graph: rclpy initialised on ``domain``, the test's own driver node, and one
    executor for the driver and the nodes under test (``add``/``start``), all destroyed by ``close``.
    rclpy's default context is the test's, so nodes built without a context (the bringup's) join it."""

    def __init__(self, domain: int) -> None:
        self.domain = domain
        rclpy.init(domain_id=domain)
        self.node = Node(f"test_driver_{uuid.uuid4().hex[:8]}")
        self.executor: Executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.nodes: list[Node] = []
        self._endpoints: list[Publisher | Subscription] = []  # what ``connected`` waits for

    def multithreaded(self) -> None:
        """Spin on a MultiThreadedExecutor instead (graphs whose nodes block in callbacks); call first."""
        assert not self.nodes, "choose the executor before adding nodes"
        self.executor.remove_node(self.node)
        self.executor.shutdown()
        self.executor = MultiThreadedExecutor()
        self.executor.add_node(self.node)

    def add(self, *nodes: Node) -> None:
        """Spin ``nodes`` (made in this context) with the driver; ``close`` destroys them."""
        for node in nodes:
            self.nodes.append(node)
            self.executor.add_node(node)

    def start(self, cls: type[Node], *overrides: Parameter, **kwargs) -> Node:
        """A node of class ``cls`` with ``overrides`` as parameters, spun with the driver."""
        node = cls(parameter_overrides=list(overrides), **kwargs)
        self.add(node)
        return node

    def destroy(self, node: Node) -> None:
        """Stop spinning ``node`` and destroy it now, for a test of what destroying it does."""
        self.nodes.remove(node)
        self.executor.remove_node(node)
        node.destroy_node()

    def publisher(self, msg_type: type, topic: str, qos: QoSProfile | int = 10) -> Publisher:
        pub = self.node.create_publisher(msg_type, topic, qos)
        self._endpoints.append(pub)
        return pub

    def listen(self, msg_type: type, topic: str, qos: QoSProfile | int = 100) -> list:
        """The messages arriving on ``topic``, appended as they come."""
        received: list = []
        self._endpoints.append(self.node.create_subscription(msg_type, topic, received.append, qos))
        return received

    def spin_until(
        self,
        done: Callable[[], object],
        what: str | Callable[[], str],
        timeout: float = DEADLINE,
        between: Callable[[], object] | None = None,
    ) -> None:
        """Spin until ``done()``, failing after ``timeout`` s with ``what`` it waited for. ``between``
        runs before every spin: resend what a best-effort link may lose before it has matched, or
        push a fake camera's next frame."""

        def step() -> None:
            if between is not None:
                between()
            self.executor.spin_once(timeout_sec=0.05)

        wait_until(done, what, timeout, step)

    def spin_for(self, seconds: float) -> None:
        """Let ``seconds`` pass while spinning: for time a node must notice (a gap, an outage),
        never to wait for a message."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.executor.spin_once(timeout_sec=min(0.05, left))

    def connected(self, *publishers: Publisher) -> None:
        """Wait until ``publishers`` (by default every publisher and subscription the test made)
        have matched a peer."""

        def matched(e: Publisher | Subscription) -> bool:
            return (e.get_subscription_count() if isinstance(e, Publisher) else e.get_publisher_count()) > 0

        endpoints = publishers or self._endpoints
        self.spin_until(
            lambda: all(matched(e) for e in endpoints),
            lambda: "a peer for " + ", ".join(e.topic_name for e in endpoints if not matched(e)),
        )

    @staticmethod
    def handled(node: Node, topic: str) -> list:
        """The messages ``node``'s subscription on ``topic`` has handled from now on, each appended
        once its callback returned: proof of arrival for a message that changes nothing visible."""
        (sub,) = [s for s in node.subscriptions if s.topic_name == node.resolve_topic_name(topic)]
        done: list = []
        callback = sub.callback

        def record(msg) -> None:
            callback(msg)
            done.append(msg)

        sub.callback = record
        return done

    def call(self, srv_type: type, name: str, request=None, timeout: float = DEADLINE):
        """The answer of service ``name`` to ``request`` (an empty request by default)."""
        client = self.node.create_client(srv_type, name)
        try:
            self.spin_until(client.service_is_ready, f"the service {name}", timeout)
            future = client.call_async(request if request is not None else srv_type.Request())
            self.spin_until(future.done, f"an answer from {name}", timeout)
            return future.result()
        finally:
            self.node.destroy_client(client)

    def close(self) -> None:
        stop_executor(self.executor, [*self.nodes, self.node])
        rclpy.shutdown()
