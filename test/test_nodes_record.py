"""Recording demonstrations over real DDS: the sim expert teleoperating through teleop_node into
recorder_node, the recorder's services and failures, and teleop_node on its own."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist, TwistStamped, Vector3
from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.data.bag_reader import BagReader
from amplify_ros.data.bag_writer import BagWriteError
from amplify_ros.data.episode import read_episode
from amplify_ros.nodes.bringup import build_nodes, stop_executor
from amplify_ros.nodes.qos import latched_qos
from amplify_ros.nodes.recorder_node import RecorderNode
from amplify_ros.nodes.teleop_node import TeleopNode
from amplify_ros.train.data_cli import main as data_main
from ros_probe import Probe, header, image, joint_state, spin_for, spin_until

REPO = Path(__file__).resolve().parents[1]


def call(executor, probe: Probe, srv, name: str, request=None):
    client = probe.create_client(srv, name)
    assert client.wait_for_service(timeout_sec=5.0), f"no service {name}"
    future = client.call_async(request if request is not None else srv.Request())
    assert spin_until(executor, future.done, 10.0), f"{name} did not answer"
    return future.result()


def record_next_sim_episode(executor, probe: Probe, recorder: RecorderNode, results: list, success: bool | None = None):
    """The sim bridge runs one episode at start-up; record the next one, from its first frame,
    mark it (when ``success`` is given) and stop. Returns the stop's answer."""
    # deadlines, not expectations: one lockstep episode took 13-27 s here on a multi-threaded executor
    assert spin_until(executor, lambda: len(results) == 1 and not recorder._pending, 90.0)
    assert call(executor, probe, Trigger, "/amplify_recorder/start").success
    assert call(executor, probe, Trigger, "/sim/reset").success
    assert spin_until(executor, lambda: len(results) == 2, 90.0)
    if success is not None:
        assert call(executor, probe, SetBool, "/amplify_recorder/mark_success", SetBool.Request(data=success)).success
    stopped = call(executor, probe, Trigger, "/amplify_recorder/stop")
    assert stopped.success, stopped.message
    return stopped


def ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def test_the_sim_expert_teleoperates_an_episode_that_is_recorded_and_imported_with_its_actions(ros, tmp_path):
    """... and with a second camera, as a multi-view policy needs."""
    doc = yaml.safe_load((REPO / "config" / "sim_record.yaml").read_text())
    doc["amplify_sim_bridge"]["ros__parameters"].update(image_size=64, max_steps=30, command_timeout=0.3,
                                                        extra_cameras=["corner2"])
    doc["amplify_recorder"]["ros__parameters"].update(output_dir=str(tmp_path / "rec"), write_episodes=True,
                                                      dataset_dir=str(tmp_path / "converted"), dataset_image_size=64,
                                                      extra_cameras=["corner2"])
    (config := tmp_path / "sim_record.yaml").write_text(yaml.safe_dump(doc))
    nodes = build_nodes(config)
    bridge, recorder = nodes[0], nodes[2]
    probe = Probe()
    for topic, kind in (("sim/episode_result", String), ("amplify/command", JointTrajectory), ("sim/expert_twist", TwistStamped)):
        probe.listen(kind, topic, 200)
    results = probe.got["sim/episode_result"]
    executor = MultiThreadedExecutor()
    for n in [*nodes, probe]:
        executor.add_node(n)
    try:
        stopped = record_next_sim_episode(executor, probe, recorder, results, success=True)
        assert "1 dataset episode(s)" in stopped.message, stopped.message
        bag = recorder.episodes.path
    finally:
        stop_executor(executor, nodes)
    assert json.loads(results[1].data)["steps"] == 30

    assert data_main(["import-bag", str(bag), "--out", str(tmp_path / "ds"), "--action-topic", "/amplify/command", "--size", "64",
                      "--extra-image-topic", "/corner2/image_raw"]) == 0
    (path,) = (tmp_path / "ds").glob("*/episode_*.h5")
    ep = read_episode(path)
    assert ep.num_frames == 30 and ep.actions.shape == (29, 4) and ep.success is True
    assert ep.images["corner2"].shape == (30, 64, 64, 3) and not np.array_equal(ep.images["corner2"], ep.images["camera"])
    assert ep.sentence == bridge.session.sentence and ep.info["proprio"] == ["ee_x", "ee_y", "ee_z", "gripper"]
    commands = {ns(m): m.points[0].positions for m in probe.got["amplify/command"]}
    twists = {ns(m): m.twist for m in probe.got["sim/expert_twist"]}
    for t, stamp in enumerate(ep.extras["stamps_ns"][:-1]):
        assert np.allclose(ep.actions[t], commands[stamp], atol=1e-6), f"frame {t}: not the command stamped with it"
        tw = twists[stamp]  # the command is the expert's action for that frame, clipped as the arm clips it
        assert np.allclose(commands[stamp], np.clip([tw.linear.x, tw.linear.y, tw.linear.z, tw.angular.z], -1, 1))
    assert np.abs(ep.proprio[-1, :3] - ep.proprio[0, :3]).max() > 0.05  # the expert moved the hand (m)
    (converted,) = (tmp_path / "converted").glob("*/episode_*.h5")  # write_episodes made the same episode
    same = read_episode(converted)
    assert same.success is True and np.array_equal(same.actions, ep.actions)
    assert all(np.array_equal(same.images[c], ep.images[c]) for c in ("camera", "corner2"))


@pytest.fixture
def recorder_graph(ros, tmp_path):
    """(executor, recorder in action_free mode, probe publishing task, joint states and images)."""
    probe = Probe()
    probe.send(String, "amplify/task", String(data="wave at the camera"), latched_qos())  # before the recorder exists
    probe.send(JointState, "joint_states", joint_state(1.0, ["j"], [0.0]), qos_profile_sensor_data)
    probe.send(Image, "camera/image_raw", image(1.0), qos_profile_sensor_data)
    probe.listen(String, "/amplify_recorder/status", latched_qos())
    probe.listen(DiagnosticArray, "/diagnostics")
    node = RecorderNode(parameter_overrides=[
        Parameter("mode", value="action_free"), Parameter("output_dir", value=str(tmp_path / "rec")),
        Parameter("topics", value=["camera/image_raw", "joint_states", "amplify/task:std_msgs/msg/String"]),
    ])
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    assert spin_until(executor, lambda: not node._pending and "/amplify/task" in node.episodes._latched, 10.0)
    yield executor, node, probe
    executor.shutdown()
    node.destroy_node()
    probe.destroy_node()


def status(probe: Probe) -> dict:
    return json.loads(probe.got["/amplify_recorder/status"][-1].data)


def send_images(executor, probe: Probe, node: RecorderNode, count: int) -> None:
    start = node.episodes.episode["messages"]
    for k in range(count):
        probe.send(Image, "camera/image_raw", image(2.0 + k), qos_profile_sensor_data)
        spin_for(executor, 0.02)
    assert spin_until(executor, lambda: node.episodes.episode["messages"] >= start + count, 5.0)


def test_recorder_services_start_stop_mark_and_discard_episodes_with_the_latched_task(recorder_graph):
    executor, node, probe = recorder_graph
    assert not call(executor, probe, Trigger, "/amplify_recorder/stop").success  # idle
    assert "no episode to mark" in call(executor, probe, SetBool, "/amplify_recorder/mark_success").message
    started = call(executor, probe, Trigger, "/amplify_recorder/start")
    assert started.success and started.message.endswith("episode_0000"), started.message
    assert "already recording episode 0" in call(executor, probe, Trigger, "/amplify_recorder/start").message
    send_images(executor, probe, node, 5)
    stopped = call(executor, probe, Trigger, "/amplify_recorder/stop")
    assert stopped.success and "episode 0: 6 messages" in stopped.message
    bag = node.episodes.path
    messages = list(BagReader(bag).messages())
    started_ns = yaml.safe_load((bag / "episode.yaml").read_text())["started_ns"]
    assert (messages[0].topic, messages[0].timestamp) == ("/amplify/task", started_ns)  # published before the recorder existed
    assert [m.topic for m in messages[1:]] == ["/camera/image_raw"] * 5  # no joint states in action_free mode
    assert spin_until(executor, lambda: status(probe)["state"] == "idle" and status(probe)["messages"] == 6)
    s = status(probe)
    assert s["episode"] == 0 and s["last_error"] == "" and "not recorded in action_free mode" in s["skipped"]["/joint_states"]
    assert s["topics"] == {"/camera/image_raw": "sensor_msgs/msg/Image", "/amplify/task": "std_msgs/msg/String"}

    assert call(executor, probe, SetBool, "/amplify_recorder/mark_success", SetBool.Request(data=True)).success
    assert yaml.safe_load((bag / "episode.yaml").read_text())["success"] is True
    assert call(executor, probe, Trigger, "/amplify_recorder/start").message.endswith("episode_0001")
    assert call(executor, probe, Trigger, "/amplify_recorder/discard").success  # while recording
    assert not (bag.parent / "episode_0001").exists() and bag.exists()
    assert "no episode to discard" in call(executor, probe, Trigger, "/amplify_recorder/discard").message


def test_unwritable_output_and_write_failures_stop_recording_with_a_clear_error_and_the_node_goes_on(recorder_graph, tmp_path, monkeypatch):
    executor, node, probe = recorder_graph
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("")  # root may write anywhere, but nobody can create a folder inside a file
    assert node.set_parameters([Parameter("output_dir", value=str(blocker))])[0].successful
    started = call(executor, probe, Trigger, "/amplify_recorder/start")
    assert not started.success and "not_a_folder" in started.message and "Not a directory" in started.message

    def error_on_diagnostics() -> bool:
        return any(s.level == DiagnosticStatus.ERROR and "Not a directory" in s.message
                   for m in probe.got["/diagnostics"] for s in m.status if s.name == "amplify_ros: amplify_recorder")

    assert spin_until(executor, error_on_diagnostics, 3.0)
    assert "Not a directory" in status(probe)["last_error"] and status(probe)["state"] == "idle"

    assert node.set_parameters([Parameter("output_dir", value=str(tmp_path / "ok"))])[0].successful
    assert call(executor, probe, Trigger, "/amplify_recorder/start").success  # the node carries on
    send_images(executor, probe, node, 2)

    def disk_full(*args):
        raise BagWriteError("cannot write to bag: disk full (ENOSPC)")

    monkeypatch.setattr(node.episodes.bag, "write", disk_full)
    probe.send(Image, "camera/image_raw", image(9.0), qos_profile_sensor_data)
    assert spin_until(executor, lambda: status(probe)["state"] == "idle" and "disk full" in status(probe)["last_error"], 5.0)
    assert "not recording" in call(executor, probe, Trigger, "/amplify_recorder/stop").message
    assert call(executor, probe, Trigger, "/amplify_recorder/start").success


def test_the_real_robot_config_waits_for_the_remapped_camera(ros):
    (node,) = build_nodes(REPO / "config" / "record.yaml")
    try:
        assert node.mode == "action_free" and node.storage == "mcap"
        assert set(node._pending) == {"/camera/camera/color/image_raw", "/camera/camera/color/camera_info", "/amplify/task"}
        assert node.health.status.startswith("waiting for publishers on")
    finally:
        node.destroy_node()


def twist(x: float, y: float, z: float, gripper: float) -> Twist:
    return Twist(linear=Vector3(x=x, y=y, z=z), angular=Vector3(z=gripper))


def test_teleop_turns_twists_into_scaled_clipped_commands(ros):
    node = TeleopNode(parameter_overrides=[Parameter("linear_scale", value=2.0)])
    probe = Probe()
    probe.listen(JointTrajectory, "amplify/command")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    try:
        probe.send(Twist, "cmd_vel", twist(0.1, -0.7, 0.2, 0.5))
        while not spin_until(executor, lambda: probe.got["amplify/command"], 0.5):  # until the subscription matched
            probe.send(Twist, "cmd_vel", twist(0.1, -0.7, 0.2, 0.5))
        command = probe.got["amplify/command"][0]
        assert command.joint_names == ["ee_dx", "ee_dy", "ee_dz", "gripper"] and len(command.points) == 1
        assert command.points[0].positions.tolist() == pytest.approx([0.2, -1.0, 0.4, 0.5]) and ns(command) > 0
        probe.send(Twist, "cmd_vel", twist(float("nan"), 0.0, 0.0, 0.0))
        assert spin_until(executor, lambda: node.health.dropped["bad_input"] == 1, 5.0)
    finally:
        executor.shutdown()
        node.destroy_node()


def test_teleop_stamps_commands_with_camera_frames_and_sends_nothing_on_stale_input(ros):
    node = TeleopNode(parameter_overrides=[Parameter("stamp_from_camera", value=True), Parameter("input_type", value="twist_stamped"),
                                           Parameter("max_input_age", value=0.3)])
    probe = Probe()
    probe.listen(JointTrajectory, "amplify/command")
    commands = probe.got["amplify/command"]
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)

    def stamped(t: float, gripper: float) -> TwistStamped:
        return TwistStamped(header=header(t), twist=twist(0.1, 0.0, 0.0, gripper))

    try:
        probe.send(TwistStamped, "cmd_vel", stamped(5.0, 1.0))  # made for frame 5.0; may arrive before it
        while not spin_until(executor, lambda: commands, 0.5):  # until both subscriptions matched
            probe.send(Image, "camera/image_raw", image(5.0), qos_profile_sensor_data)
            probe.send(TwistStamped, "cmd_vel", stamped(5.0, 1.0))
        assert ns(commands[0]) == 5_000_000_000 and commands[0].points[0].positions.tolist() == pytest.approx([0.1, 0, 0, 1.0])
        probe.send(TwistStamped, "cmd_vel", stamped(6.0, -1.0))
        spin_for(executor, 0.5)  # the input grows older than max_input_age
        probe.send(Image, "camera/image_raw", image(6.0), qos_profile_sensor_data)
        spin_for(executor, 0.5)
        assert [ns(c) for c in commands] == [5_000_000_000] * len(commands)  # stale: nothing for frame 6.0
        probe.send(TwistStamped, "cmd_vel", stamped(6.0, -0.5))  # fresh input commands the waiting frame
        assert spin_until(executor, lambda: ns(commands[-1]) == 6_000_000_000, 5.0)
        assert commands[-1].points[0].positions[3] == pytest.approx(-0.5)
    finally:
        executor.shutdown()
        node.destroy_node()
