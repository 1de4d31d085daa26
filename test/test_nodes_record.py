"""Recording demonstrations over real DDS: the sim expert teleoperating through teleop_node into
recorder_node, the recorder's services and failures, and teleop_node on its own."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist, TwistStamped
from messages import header, image, twist
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.data.bag_reader import BagReader
from amplify_ros.data.bag_writer import BagWriteError
from amplify_ros.data.episode import read_episode
from amplify_ros.data.image_msgs import cdr_stamp
from amplify_ros.nodes.bringup import build_nodes
from amplify_ros.nodes.qos import latched_qos
from amplify_ros.nodes.recorder_node import RecorderNode
from amplify_ros.nodes.stamps import stamp_ns
from amplify_ros.nodes.teleop_node import TeleopNode
from amplify_ros.train.data_cli import main as data_main

REPO = Path(__file__).resolve().parents[1]


def record_next_sim_episode(ros, recorder: RecorderNode, results: list, success: bool | None = None):
    """The sim bridge runs one episode at start-up; record the next one, from its first frame,
    mark it (when ``success`` is given) and stop. Returns the stop's answer."""
    # deadlines, not expectations: one lockstep episode took 13-27 s here on a multi-threaded executor
    ros.spin_until(
        lambda: len(results) == 1 and not recorder._pending, "the start-up episode, and the recorder subscribed", 90.0
    )
    assert ros.call(Trigger, "/amplify_recorder/start").success
    assert ros.call(Trigger, "/sim/reset").success
    ros.spin_until(lambda: len(results) == 2, "the recorded episode", 90.0)
    if success is not None:
        assert ros.call(SetBool, "/amplify_recorder/mark_success", SetBool.Request(data=success)).success
    stopped = ros.call(Trigger, "/amplify_recorder/stop")
    assert stopped.success, stopped.message
    return stopped


def test_the_sim_expert_teleoperates_an_episode_that_is_recorded_and_imported_with_its_actions(ros, tmp_path):
    """... and with a second camera, as a multi-view policy needs."""
    doc = yaml.safe_load((REPO / "config" / "sim_record.yaml").read_text())
    doc["amplify_sim_bridge"]["ros__parameters"].update(
        image_size=64, max_steps=30, command_timeout=0.3, extra_cameras=["corner2"]
    )
    doc["amplify_recorder"]["ros__parameters"].update(
        output_dir=str(tmp_path / "rec"),
        write_episodes=True,
        dataset_dir=str(tmp_path / "converted"),
        dataset_image_size=64,
        extra_cameras=["corner2"],
    )
    (config := tmp_path / "sim_record.yaml").write_text(yaml.safe_dump(doc))
    ros.multithreaded()
    nodes = build_nodes(config)
    ros.add(*nodes)
    bridge, recorder = nodes[0], nodes[2]
    results = ros.listen(String, "sim/episode_result", 200)
    commands, twists = (
        ros.listen(JointTrajectory, "amplify/command", 200),
        ros.listen(TwistStamped, "sim/expert_twist", 200),
    )
    stopped = record_next_sim_episode(ros, recorder, results, success=True)
    assert "1 dataset episode(s)" in stopped.message, stopped.message
    bag = recorder.episodes.path
    assert json.loads(results[1].data)["steps"] == 30

    assert (
        data_main(
            [
                "import-bag",
                str(bag),
                "--out",
                str(tmp_path / "ds"),
                "--action-topic",
                "/amplify/command",
                "--size",
                "64",
                "--extra-image-topic",
                "/corner2/image_raw",
            ]
        )
        == 0
    )
    (path,) = (tmp_path / "ds").glob("*/episode_*.h5")
    ep = read_episode(path)
    assert ep.num_frames == 30 and ep.actions.shape == (29, 4) and ep.success is True
    assert ep.images["corner2"].shape == (30, 64, 64, 3) and not np.array_equal(
        ep.images["corner2"], ep.images["camera"]
    )
    assert ep.sentence == bridge.session.sentence and ep.info["proprio"] == ["ee_x", "ee_y", "ee_z", "gripper"]
    by_stamp = {stamp_ns(m.header): m.points[0].positions for m in commands}
    twist_at = {stamp_ns(m.header): m.twist for m in twists}
    for t, stamp in enumerate(ep.extras["stamps_ns"][:-1]):
        assert np.allclose(ep.actions[t], by_stamp[stamp], atol=1e-6), f"frame {t}: not the command stamped with it"
        tw = twist_at[stamp]  # the command is the expert's action for that frame, clipped as the arm clips it
        assert np.allclose(by_stamp[stamp], np.clip([tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.z], -1, 1))
    assert np.abs(ep.proprio[-1, :3] - ep.proprio[0, :3]).max() > 0.05  # the expert moved the hand (m)
    (converted,) = (tmp_path / "converted").glob("*/episode_*.h5")  # write_episodes made the same episode
    same = read_episode(converted)
    assert same.success is True and np.array_equal(same.actions, ep.actions)
    assert all(np.array_equal(same.images[c], ep.images[c]) for c in ("camera", "corner2"))


@dataclass
class Recorder:
    node: RecorderNode
    camera: Publisher
    status: list  # /amplify_recorder/status messages
    diagnostics: list

    def state(self) -> dict:
        return json.loads(self.status[-1].data)

    def send_images(self, ros, count: int) -> None:
        """``count`` frames, each recorded before the next is sent."""
        for k in range(count):
            messages = self.node.episodes.episode["messages"]
            self.camera.publish(image(2.0 + k))
            ros.spin_until(lambda: self.node.episodes.episode["messages"] == messages + 1, f"frame {k} to be recorded")


@pytest.fixture
def recorder(ros, tmp_path) -> Recorder:
    """The recorder in action_free mode, the test publishing task, joint states and images."""
    ros.publisher(String, "amplify/task", latched_qos()).publish(
        String(data="wave at the camera")
    )  # before the recorder exists
    ros.publisher(JointState, "joint_states", qos_profile_sensor_data)
    camera = ros.publisher(Image, "camera/image_raw", qos_profile_sensor_data)
    status, diagnostics = (
        ros.listen(String, "/amplify_recorder/status", latched_qos()),
        ros.listen(DiagnosticArray, "/diagnostics"),
    )
    node = ros.start(
        RecorderNode,
        Parameter("mode", value="action_free"),
        Parameter("output_dir", value=str(tmp_path / "rec")),
        Parameter("topics", value=["camera/image_raw", "joint_states", "amplify/task:std_msgs/msg/String"]),
    )
    ros.spin_until(
        lambda: not node._pending and "/amplify/task" in node.episodes._latched,
        "every topic subscribed and the task latched",
    )
    ros.connected(camera)
    return Recorder(node, camera, status, diagnostics)


def test_recorder_services_start_stop_mark_and_discard_episodes_with_the_latched_task(ros, recorder):
    node = recorder.node
    assert not ros.call(Trigger, "/amplify_recorder/stop").success  # idle
    assert "no episode to mark" in ros.call(SetBool, "/amplify_recorder/mark_success").message
    started = ros.call(Trigger, "/amplify_recorder/start")
    assert started.success and started.message.endswith("episode_0000"), started.message
    assert "already recording episode 0" in ros.call(Trigger, "/amplify_recorder/start").message
    recorder.send_images(ros, 5)
    stopped = ros.call(Trigger, "/amplify_recorder/stop")
    assert stopped.success and "episode 0: 6 messages" in stopped.message
    bag = node.episodes.path
    messages = list(BagReader(bag).messages())
    started_ns = yaml.safe_load((bag / "episode.yaml").read_text())["started_ns"]
    assert (messages[0].topic, messages[0].timestamp) == (
        "/amplify/task",
        started_ns,
    )  # published before the recorder existed
    assert [m.topic for m in messages[1:]] == ["/camera/image_raw"] * 5  # no joint states in action_free mode
    ros.spin_until(lambda: recorder.state()["state"] == "idle" and recorder.state()["messages"] == 6, "the idle status")
    s = recorder.state()
    assert (
        s["episode"] == 0
        and s["last_error"] == ""
        and "not recorded in action_free mode" in s["skipped"]["/joint_states"]
    )
    assert s["topics"] == {"/camera/image_raw": "sensor_msgs/msg/Image", "/amplify/task": "std_msgs/msg/String"}

    assert ros.call(SetBool, "/amplify_recorder/mark_success", SetBool.Request(data=True)).success
    assert yaml.safe_load((bag / "episode.yaml").read_text())["success"] is True
    assert ros.call(Trigger, "/amplify_recorder/start").message.endswith("episode_0001")
    assert ros.call(Trigger, "/amplify_recorder/discard").success  # while recording
    assert not (bag.parent / "episode_0001").exists() and bag.exists()
    assert "no episode to discard" in ros.call(Trigger, "/amplify_recorder/discard").message


def test_unwritable_output_and_write_failures_stop_recording_with_a_clear_error_and_the_node_goes_on(
    ros, recorder, tmp_path, monkeypatch
):
    node = recorder.node
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")  # root may write anywhere, but nobody can create a folder inside a file
    assert node.set_parameters([Parameter("output_dir", value=str(blocker))])[0].successful
    started = ros.call(Trigger, "/amplify_recorder/start")
    assert not started.success and "not_a_folder" in started.message and "Not a directory" in started.message

    def error_on_diagnostics() -> bool:
        return any(
            s.level == DiagnosticStatus.ERROR and "Not a directory" in s.message
            for m in recorder.diagnostics
            for s in m.status
            if s.name == "amplify_ros: amplify_recorder"
        )

    ros.spin_until(error_on_diagnostics, "the error on /diagnostics")
    assert "Not a directory" in recorder.state()["last_error"] and recorder.state()["state"] == "idle"

    assert node.set_parameters([Parameter("output_dir", value=str(tmp_path / "ok"))])[0].successful
    assert ros.call(Trigger, "/amplify_recorder/start").success  # the node carries on
    recorder.send_images(ros, 2)

    def disk_full(*args):
        raise BagWriteError("cannot write to bag: disk full (ENOSPC)")

    monkeypatch.setattr(node.episodes.bag, "write", disk_full)
    recorder.camera.publish(image(9.0))
    ros.spin_until(
        lambda: recorder.state()["state"] == "idle" and "disk full" in recorder.state()["last_error"],
        "the disk-full status",
    )
    assert "not recording" in ros.call(Trigger, "/amplify_recorder/stop").message
    assert ros.call(Trigger, "/amplify_recorder/start").success


def test_the_real_robot_config_waits_for_the_remapped_camera(ros):
    (node,) = build_nodes(REPO / "config" / "record.yaml")
    ros.add(node)
    assert node.mode == "action_free" and node.storage == "mcap"
    assert set(node._pending) == {"/camera/camera/color/image_raw", "/camera/camera/color/camera_info", "/amplify/task"}
    assert node.health.status.startswith("waiting for publishers on")


def test_teleop_turns_twists_into_scaled_clipped_commands(ros):
    node = ros.start(TeleopNode, Parameter("linear_scale", value=2.0))
    commands = ros.listen(JointTrajectory, "amplify/command")
    cmd_vel = ros.publisher(Twist, "cmd_vel")
    ros.connected()
    cmd_vel.publish(twist(0.1, -0.7, 0.2, 0.5))
    ros.spin_until(lambda: commands, "the command")
    command = commands[0]
    assert command.joint_names == ["ee_dx", "ee_dy", "ee_dz", "gripper"] and len(command.points) == 1
    assert command.points[0].positions.tolist() == pytest.approx([0.2, -1.0, 0.4, 0.5]) and stamp_ns(command.header) > 0
    cmd_vel.publish(twist(float("nan"), 0.0, 0.0, 0.0))
    ros.spin_until(lambda: node.health.dropped["bad_input"] == 1, "the NaN twist to be refused")


def test_teleop_stamps_commands_with_camera_frames_and_sends_nothing_on_stale_input(ros):
    node = ros.start(
        TeleopNode,
        Parameter("stamp_from_camera", value=True),
        Parameter("input_type", value="twist_stamped"),
        Parameter("max_input_age", value=0.3),
    )
    commands = ros.listen(JointTrajectory, "amplify/command")
    cmd_vel, camera = (
        ros.publisher(TwistStamped, "cmd_vel"),
        ros.publisher(Image, "camera/image_raw", qos_profile_sensor_data),
    )
    ros.connected()

    def stamped(t: float, gripper: float) -> TwistStamped:
        return TwistStamped(header=header(t), twist=twist(0.1, 0.0, 0.0, gripper))

    def frame_5() -> None:  # the input is made for frame 5.0 and may arrive before it; both until a command comes
        cmd_vel.publish(stamped(5.0, 1.0))
        camera.publish(image(5.0))

    ros.spin_until(lambda: commands, "the command for frame 5.0", between=frame_5)
    assert stamp_ns(commands[0].header) == 5_000_000_000
    assert commands[0].points[0].positions.tolist() == pytest.approx([0.1, 0, 0, 1.0])
    cmd_vel.publish(stamped(6.0, -1.0))
    ros.spin_for(0.5)  # the input grows older than max_input_age
    frames = ros.handled(node, "camera/image_raw")
    camera.publish(image(6.0))
    ros.spin_until(lambda: 6_000_000_000 in map(cdr_stamp, frames), "frame 6.0 to arrive while the input is stale")
    cmd_vel.publish(stamped(6.0, -0.5))  # fresh input commands the waiting frame
    ros.spin_until(lambda: stamp_ns(commands[-1].header) == 6_000_000_000, "the command for frame 6.0")
    assert commands[-1].points[0].positions[3] == pytest.approx(-0.5)  # from the fresh input: the stale one made none
    assert {stamp_ns(c.header) for c in commands[:-1]} == {5_000_000_000}  # in order on one link: nothing else for 6.0
