"""keyboard_teleop_node over real DDS, typed into through a pseudo-terminal, driving teleop_node."""

import os
import signal
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
import yaml
from geometry_msgs.msg import Twist
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.keyboard_teleop_node import KeyboardTeleopNode, NotATerminal
from amplify_ros.nodes.teleop_node import TeleopNode

REPO = Path(__file__).resolve().parents[1]


def test_keys_typed_in_a_terminal_drive_the_arm_while_held_and_the_terminal_is_given_back(ros):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    try:
        keyboard = ros.start(KeyboardTeleopNode, Parameter("hold", value=0.3), keys_fd=slave)
        assert not termios.tcgetattr(slave)[3] & termios.ICANON  # keys arrive one by one
        ros.start(TeleopNode)
        twists, commands = ros.listen(Twist, "cmd_vel"), ros.listen(JointTrajectory, "amplify/command")
        ros.connected()
        ros.spin_until(lambda: keyboard.twist_pub.get_subscription_count() == 2, "cmd_vel to reach teleop_node too")
        os.write(master, b"w")
        ros.spin_until(lambda: commands, "the command for w")
        assert (twists[0].linear.x, twists[0].linear.y, twists[0].angular.z) == (0.5, 0.0, -1.0)
        assert list(commands[0].points[0].positions) == [0.5, 0.0, 0.0, -1.0]
        ros.spin_until(lambda: keyboard.keys.state.axis is None, "the keyboard node to stop the arm: w is not held")
        os.write(master, b"\x1b[A")  # an arrow key is not a command
        os.write(master, b"g")  # closing the gripper is sent although nothing moves
        ros.spin_until(lambda: commands[-1].points[0].positions[3] == 1.0, "the command for g")
        assert list(commands[-1].points[0].positions) == [0.0, 0.0, 0.0, 1.0]
        # while w was held, then g (in order on one link): nothing came of the arrow key, nothing between the keys
        sent = [(t.linear.x, t.linear.y, t.linear.z, t.angular.z) for t in twists]
        assert set(sent) == {(0.5, 0.0, 0.0, -1.0), (0.0, 0.0, 0.0, 1.0)} and sent == sorted(sent, reverse=True)
        ros.destroy(keyboard)
        assert termios.tcgetattr(slave) == before  # cbreak mode undone
    finally:
        os.close(master)
        os.close(slave)


def test_a_terminal_that_goes_away_stops_the_keyboard_and_not_the_node(ros):
    master, slave = os.openpty()
    keyboard = KeyboardTeleopNode(keys_fd=slave)
    try:
        os.write(master, b"w")
        keyboard.tick()
        assert keyboard.keys.twist(time.monotonic()) is not None  # moving
        os.close(master)  # the window closes: reading the terminal now fails
        keyboard.tick()
        assert keyboard.keys.twist(time.monotonic()) is None and "keyboard lost" in keyboard.health.error
        keyboard.tick()  # and keeps failing quietly
    finally:
        keyboard.destroy_node()
        os.close(slave)


def test_without_a_terminal_the_node_refuses_to_start_and_says_how_to_run_it(ros):
    read, write = os.pipe()
    try:
        with pytest.raises(NotATerminal, match="run it in a terminal of its own"):
            KeyboardTeleopNode(keys_fd=read)
    finally:
        os.close(read)
        os.close(write)


def test_keys_move_the_simulated_arm_in_the_sim_keyboard_graph(ros, tmp_path):
    """config/sim_keyboard.yaml as a person runs it: amplify-bringup in a terminal, r held down."""
    doc = yaml.safe_load((REPO / "config" / "sim_keyboard.yaml").read_text())
    # frames re-sent every 0.5 s while idle, so this probe sees one however late it connects
    doc["amplify_sim_bridge"]["ros__parameters"].update(image_size=64, command_timeout=0.5)
    doc["amplify_recorder"]["ros__parameters"]["output_dir"] = str(tmp_path / "recordings")
    (config := tmp_path / "sim_keyboard.yaml").write_text(yaml.safe_dump(doc))
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    log = (tmp_path / "bringup.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "amplify-bringup"), str(config)],
        stdin=slave,
        stdout=log,
        stderr=subprocess.STDOUT,
    )  # on this test's ROS_DOMAIN_ID
    ee = ros.listen(JointState, "ee_state")
    try:
        ros.spin_until(
            lambda: ee, lambda: "the first ee_state; bringup log:\n" + (tmp_path / "bringup.log").read_text(), 60.0
        )
        start_z = ee[0].position[2]
        for _ in range(20):  # a held key: the terminal repeats it
            os.write(master, b"r")
            ros.spin_for(0.1)
        ros.spin_until(lambda: ee[-1].position[2] > start_z + 0.02, "the hand to rise 2 cm")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert termios.tcgetattr(slave) == before  # the terminal is the person's again
    finally:
        proc.kill()
        os.close(master)
        os.close(slave)
