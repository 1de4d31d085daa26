"""keyboard_teleop_node: drive the arm from the terminal the node runs in.

Publishes cmd_vel (``geometry_msgs/Twist``, or ``TwistStamped``: ``output_type``) for teleop_node,
which turns it into the arm command a policy would send: the keyboard stands in for a joystick
when recording demonstrations. Keys and the dead man's switch are in
``amplify_ros.control.keyboard``. While no key is held nothing is published (a lockstep
simulator then waits for the operator), unless ``publish_when_idle`` streams zero twists.

The terminal is switched to cbreak mode (keys arrive one by one, unechoed; Ctrl-C still
interrupts) and restored when the node is destroyed. Without a terminal on stdin the node
refuses to start and says how to run it.
"""

from __future__ import annotations

import contextlib
import os
import select
import sys
import termios
import time
import tty

from geometry_msgs.msg import Twist, TwistStamped
from rclpy.node import Node
from rclpy.qos import QoSProfile
from std_msgs.msg import Header

from amplify_ros.control.commands import TwistFields
from amplify_ros.control.keyboard import HELP, SPEED_RANGE, KeyboardTwist
from amplify_ros.nodes.bringup import NodeStartError, run_node
from amplify_ros.nodes.command_msgs import twist_stamped_msg
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.parameters import LiveParameters


class NotATerminal(NodeStartError):
    """stdin (or the given file descriptor) is no terminal to read keys from."""


class KeyboardTeleopNode(Node):
    """Reads keys from a terminal; publishes cmd_vel while a key is held."""

    def __init__(self, keys_fd: int | None = None, **kwargs) -> None:
        super().__init__("amplify_keyboard", **kwargs)
        self.fd = sys.stdin.fileno() if keys_fd is None else keys_fd
        if not os.isatty(self.fd):
            raise NotATerminal(
                "keyboard_teleop_node reads keys from its terminal and stdin is not one: run it in a "
                "terminal of its own (`ros2 run amplify_ros keyboard_teleop_node`, or `amplify-bringup "
                'sim_keyboard`); our launch files open one for it (launch argument terminal:="xterm -e")'
            )
        self.health = Health()
        p = LiveParameters(self)
        self.keys = KeyboardTwist(
            speed=p.declare(
                "speed",
                0.5,
                "twist size of a motion key at start; + and - change it",
                range=SPEED_RANGE,
                apply=self._set_speed,
            ),
            hold=p.declare(
                "hold",
                0.6,
                "a motion key keeps moving the arm this long after its last press or repeat "
                "(s): longer than the terminal's autorepeat delay",
                range=(0.05, 5.0),
                apply=self._set_hold,
            ),
        )
        self.stamped = (
            p.declare(
                "output_type",
                "twist",
                "message on cmd_vel: 'twist' or 'twist_stamped' (as teleop_node's input_type)",
                choices=("twist", "twist_stamped"),
            )
            == "twist_stamped"
        )
        self.publish_when_idle = p.declare(
            "publish_when_idle",
            False,
            "also send zero twists (gripper as set) while no key is held, for controllers that want a steady stream",
            apply=p.setter("publish_when_idle"),
        )
        rate = p.declare("rate", 30.0, "cmd_vel messages per second while a key is held (Hz)", range=(1.0, 500.0))
        self.twist_pub = self.create_publisher(TwistStamped if self.stamped else Twist, "cmd_vel", QoSProfile(depth=10))
        self.diagnostics = DiagnosticsReporter(self, self.health)
        self._terminal = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        self.create_timer(1.0 / rate, self.tick)
        self.health.status = "running"
        self.get_logger().info(HELP)

    def _set_speed(self, value: float) -> None:
        self.keys.state.speed = value

    def _set_hold(self, value: float) -> None:
        self.keys.hold = value

    def tick(self) -> None:
        if self.fd < 0:  # the terminal is gone: nothing more is sent, not even publish_when_idle's zeros
            return
        now = time.monotonic()
        if self._poll.poll(0):  # a key, or the terminal hung up
            try:
                data, why = os.read(self.fd, 256), "end of input"
            except OSError as err:
                data, why = b"", str(err)
            if not data:  # the terminal went away (window closed, ssh dropped): stop, keep the graph up
                self.lose_terminal(now, why)
                return
            if self.keys.feed(data.decode(errors="ignore"), now):
                self.get_logger().info(self.keys.status(now))
        twist = self.keys.twist(now)
        if twist is None and self.publish_when_idle:
            twist = self.keys.idle_twist()
        if twist is not None:
            self.publish(twist)

    def lose_terminal(self, now: float, why: str) -> None:
        self._poll.unregister(self.fd)
        self.fd = -1
        self.keys.feed(" ", now)  # stop now
        self.health.status, self.health.error = "no terminal", f"keyboard lost: {why}"
        self.get_logger().error(f"the terminal is gone ({why}): no more keyboard input, nothing is sent")

    def publish(self, fields: TwistFields) -> None:
        start = time.perf_counter()
        msg = twist_stamped_msg(fields, Header(stamp=self.get_clock().now().to_msg()))
        self.twist_pub.publish(msg if self.stamped else msg.twist)
        self.health.ok((time.perf_counter() - start) * 1e3)

    def destroy_node(self) -> None:
        if self.fd >= 0:
            with contextlib.suppress(termios.error):  # give the terminal back as it was, if it is still there
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._terminal)
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(KeyboardTeleopNode, args)


if __name__ == "__main__":
    main()
