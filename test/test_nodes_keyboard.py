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
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from sensor_msgs.msg import JointState
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.bringup import stop_executor
from amplify_ros.nodes.keyboard_teleop_node import KeyboardTeleopNode, NotATerminal
from amplify_ros.nodes.teleop_node import TeleopNode
from ros_probe import Probe, spin_for, spin_until

REPO = Path(__file__).resolve().parents[1]


def test_keys_typed_in_a_terminal_drive_the_arm_while_held_and_the_terminal_is_given_back(ros):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    keyboard = KeyboardTeleopNode(keys_fd=slave, parameter_overrides=[Parameter("hold", value=0.3)])
    assert not termios.tcgetattr(slave)[3] & termios.ICANON  # keys arrive one by one
    teleop = TeleopNode()
    probe = Probe()
    probe.listen(Twist, "cmd_vel", 100)
    probe.listen(JointTrajectory, "amplify/command", 100)
    executor = SingleThreadedExecutor()
    for node in (keyboard, teleop, probe):
        executor.add_node(node)
    try:
        assert spin_until(executor, lambda: teleop.count_subscribers("cmd_vel") and probe.count_publishers("amplify/command"))
        os.write(master, b"w")
        assert spin_until(executor, lambda: probe.got["amplify/command"])
        first = probe.got["cmd_vel"][0]
        assert (first.linear.x, first.linear.y, first.angular.z) == (0.5, 0.0, -1.0)
        assert list(probe.got["amplify/command"][0].points[0].positions) == [0.5, 0.0, 0.0, -1.0]
        spin_for(executor, 0.7)  # the key is not held: the arm stops within hold, then nothing is sent
        probe.got.clear()
        os.write(master, b"\x1b[A")  # an arrow key is not a command
        spin_for(executor, 0.5)
        assert not probe.got["cmd_vel"]
        os.write(master, b"g")  # closing the gripper is sent although nothing moves
        assert spin_until(executor, lambda: probe.got["amplify/command"])
        assert list(probe.got["amplify/command"][0].points[0].positions) == [0.0, 0.0, 0.0, 1.0]
    finally:
        stop_executor(executor, [keyboard, teleop])
    assert termios.tcgetattr(slave) == before  # cbreak mode undone
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
    proc = subprocess.Popen([str(Path(sys.executable).parent / "amplify-bringup"), str(config)], stdin=slave,
                            stdout=log, stderr=subprocess.STDOUT)
    probe = Probe()
    probe.listen(JointState, "ee_state", 100)
    executor = SingleThreadedExecutor()
    executor.add_node(probe)
    try:
        assert spin_until(executor, lambda: probe.got["ee_state"], 60.0), (tmp_path / "bringup.log").read_text()
        start_z = probe.got["ee_state"][0].position[2]
        for _ in range(20):  # a held key: the terminal repeats it
            os.write(master, b"r")
            spin_for(executor, 0.1)
        assert spin_until(executor, lambda: probe.got["ee_state"][-1].position[2] > start_z + 0.02, 10.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert termios.tcgetattr(slave) == before  # the terminal is the person's again
    finally:
        proc.kill()
        executor.shutdown()
        probe.destroy_node()
        os.close(master)
        os.close(slave)
