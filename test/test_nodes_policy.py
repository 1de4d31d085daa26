"""policy_node over real DDS: what it publishes, what it refuses, and its parameters."""

import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.policy_node import PolicyNode
from amplify_ros.nodes.qos import latched_qos
from amplify_ros.nodes.tensor_msgs import msg_to_codes, msg_to_tracks, trajectory_to_chunk
from ros_probe import Probe, header, image, joint_state, spin_for, spin_until
from tiny import tiny_policy_checkpoint

NAMES = ["ee_x", "ee_y", "ee_z", "gripper"]
OUTPUTS = {"amplify/action_chunk": JointTrajectory, "amplify/command": JointTrajectory,
           "amplify/motion_tokens": Image, "amplify/predicted_tracks": Image}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_policy_checkpoint(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture
def graph(checkpoint):
    """(executor, policy node, probe) with the probe listening to every output."""
    rclpy.init()
    node = PolicyNode(parameter_overrides=[Parameter("checkpoint", value=str(checkpoint)),
                                           Parameter("state_names", value=NAMES), Parameter("max_state_age", value=1.0)])
    probe = Probe()
    for topic, kind in OUTPUTS.items():
        probe.listen(kind, topic)
    probe.listen(DiagnosticArray, "/diagnostics")
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    executor.add_node(probe)
    probe.send(String, "amplify/task", String(data="press the button"), latched_qos())
    assert spin_until(executor, lambda: node.acting.sentence == "press the button")
    yield executor, node, probe
    executor.shutdown()
    node.destroy_node()
    probe.destroy_node()
    rclpy.shutdown()


def send_frame(probe: Probe, stamp: float, encoding: str = "rgb8", state=(0.0, 0.6, 0.2, 1.0)) -> None:
    probe.send(JointState, "joint_states", joint_state(stamp, NAMES, list(state)), qos_profile_sensor_data)
    probe.send(Image, "camera/image_raw", image(stamp, encoding=encoding), qos_profile_sensor_data)


def answered(probe: Probe, stamp: float) -> bool:
    """Whether a command came back for the frame stamped ``stamp`` (frames sent while waiting
    for the graph to connect may be answered at any time: only the stamp tells them apart)."""
    want = header(stamp).stamp
    return any(c.header.stamp == want for c in probe.got["amplify/command"])


def test_a_frame_gives_chunk_command_tokens_and_tracks_with_the_image_header(graph):
    executor, node, probe = graph
    stamp = time.time()
    assert spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, stamp))
    spin_until(executor, lambda: all(probe.got[t] for t in OUTPUTS) or send_frame(probe, time.time()) and False)
    assert all(probe.got[t] for t in OUTPUTS), {t: len(probe.got[t]) for t in OUTPUTS}
    chunk_msg = probe.got["amplify/action_chunk"][-1]
    stamps = {t: (probe.got[t][-1].header.stamp.sec, probe.got[t][-1].header.stamp.nanosec) for t in OUTPUTS}
    assert len(set(stamps.values())) == 1 and chunk_msg.header.frame_id == "cam"  # all from one image
    chunk = trajectory_to_chunk(chunk_msg)
    assert chunk.shape == (4, 4) and chunk_msg.joint_names == ["a0", "a1", "a2", "a3"]
    assert chunk_msg.points[1].time_from_start.nanosec == 12_500_000  # action_period 0.0125 s
    command = trajectory_to_chunk(probe.got["amplify/command"][-1])
    assert command.shape == (1, 4) and np.all(np.abs(command) <= 1.0)
    codes = msg_to_codes(probe.got["amplify/motion_tokens"][-1])
    assert codes.shape == (15,) and codes.min() >= 0 and codes.max() < 16
    tracks = msg_to_tracks(probe.got["amplify/predicted_tracks"][-1])
    assert tracks.shape == (16, 400, 2)
    x, y = tracks[0, :, 0], tracks[0, :, 1]  # step 0 is the grid, in the 64x48 source image
    assert 8 <= x.min() < x.max() <= 56 and 0 <= y.min() < y.max() <= 48  # inside the centre 48x48 square


def test_a_wrong_encoding_is_refused_and_the_node_keeps_going(graph):
    executor, node, probe = graph
    spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, time.time()))
    before = node.health.dropped["bad_image"]
    send_frame(probe, bad := time.time(), encoding="16UC1")
    assert spin_until(executor, lambda: node.health.dropped["bad_image"] > before)
    assert "not a colour camera encoding" in node.health.error
    spin_for(executor, 0.2)
    assert not answered(probe, bad)
    send_frame(probe, good := time.time())
    assert spin_until(executor, lambda: answered(probe, good))


def test_stale_images_and_bad_states_publish_nothing(graph):
    executor, node, probe = graph
    spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, time.time()))
    send_frame(probe, old := time.time() - 5.0)  # max_image_age 0.5 s
    assert spin_until(executor, lambda: node.health.dropped["stale_image"] > 0)
    now = time.time()
    probe.send(JointState, "joint_states", joint_state(now, NAMES, [0.0, float("nan"), 0.2, 1.0]), qos_profile_sensor_data)
    assert spin_until(executor, lambda: node.health.dropped["bad_state"] > 0)  # refused on arrival: never paired
    assert "not finite" in node.health.error
    probe.send(Image, "camera/image_raw", image(now), qos_profile_sensor_data)
    assert spin_until(executor, lambda: node.health.dropped["stale_state"] > 0)  # the other states are 5 s away
    spin_for(executor, 0.2)
    assert not answered(probe, old) and not answered(probe, now)
    assert spin_until(executor, lambda: any(s.values and any(v.key == "dropped_stale_image" for v in s.values)
                                            for d in probe.got["/diagnostics"] for s in d.status), timeout=3.0)


def test_chunks_from_before_a_camera_outage_are_not_executed_after_it(graph):
    executor, node, probe = graph
    assert node.set_parameters([Parameter("ensemble", value="open-loop"), Parameter("execute_steps", value=4)])
    stamp = time.time()
    assert spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, stamp))
    send_frame(probe, stamp := time.time())
    assert spin_until(executor, lambda: answered(probe, stamp))
    chunks = len(probe.got["amplify/action_chunk"])
    send_frame(probe, stamp := time.time())  # the chunk has actions left: no new one
    assert spin_until(executor, lambda: answered(probe, stamp)) and len(probe.got["amplify/action_chunk"]) == chunks
    spin_for(executor, node.acting.max_image_age + 0.1)  # the camera stops for longer than max_image_age
    send_frame(probe, stamp := time.time())
    assert spin_until(executor, lambda: answered(probe, stamp))
    assert len(probe.got["amplify/action_chunk"]) == chunks + 1  # predicted afresh, not the old chunk's rest


def test_parameters_are_described_ranged_and_rejected_with_a_reason(graph, tmp_path):
    executor, node, probe = graph
    desc = node.describe_parameter("ensemble_k")
    assert desc.description and desc.floating_point_range[0].to_value == 1.0
    results = node.set_parameters([Parameter("ensemble_k", value=3.0), Parameter("ensemble", value="sometimes"),
                                   Parameter("state_names", value=["x"])])
    assert [r.successful for r in results] == [False, False, False]
    assert "one of" in results[1].reason and "read-only" in results[2].reason
    assert node.set_parameters([Parameter("ensemble", value="open-loop")])[0].successful
    assert type(node.acting.runner.chunker).__name__ == "OpenLoopChunks"
    other = tiny_policy_checkpoint(tmp_path, image_size=32, chunk=4, amplify=False)
    (other / "model.safetensors").write_bytes(b"not weights")
    result = node.set_parameters([Parameter("checkpoint", value=str(other))])[0]
    assert not result.successful and "not readable" in result.reason
    assert node.acting.policy is not None and node.acting.policy.kind == "amplify"  # the old model keeps running
    result = node.set_parameters([Parameter("code_decoding", value="parallel")])[0]
    assert not result.successful and "has autoregressive" in result.reason  # no parallel head
    both = tiny_policy_checkpoint(tmp_path / "parallel", parallel_depth=1)
    assert node.set_parameters([Parameter("checkpoint", value=str(both))])[0].successful
    assert node.set_parameters([Parameter("code_decoding", value="parallel")])[0].successful
    assert node.acting.policy.motion.code_decoding == "parallel" and node.acting.policy.runtime == "onnxruntime"  # the defaults
    assert node.set_parameters([Parameter("runtime", value="torch")])[0].successful and node.acting.policy.motion._graph is None
    assert spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, time.time()))
    send_frame(probe, stamp := time.time())
    assert spin_until(executor, lambda: answered(probe, stamp))  # acts on codes from the parallel head


def test_a_missing_checkpoint_is_reported_and_the_node_stays_up():
    rclpy.init()
    try:
        node = PolicyNode(parameter_overrides=[Parameter("checkpoint", value="/nonexistent/run")])
        assert node.acting.policy is None and "no checkpoint here" in node.health.error
        node.acting.act(image(time.time()))  # must not raise
        assert node.health.dropped["no_model"] == 1
        node.destroy_node()
    finally:
        rclpy.shutdown()


def test_async_forward_mode_acts_with_recent_codes_and_publishes_them_with_their_own_frame(graph):
    executor, node, probe = graph
    assert node.set_parameters([Parameter("forward_mode", value="async")])[0].successful and node.acting.runner.worker is not None
    sent: list[float] = []

    def send() -> bool:
        sent.append(time.time())
        send_frame(probe, sent[-1])
        spin_for(executor, 0.03)
        return False

    spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send())
    probe.got.clear()
    assert spin_until(executor, lambda: len(probe.got["amplify/command"]) >= 5 or send(), timeout=30.0)
    frames = {header(s).stamp.sec * 10**9 + header(s).stamp.nanosec for s in sent}
    token_stamps = [m.header.stamp.sec * 10**9 + m.header.stamp.nanosec for m in probe.got["amplify/motion_tokens"]]
    assert token_stamps and set(token_stamps) <= frames  # each set of codes carries the frame it came from
    ages = node.health.stages_ms["codes_age_ms"]
    assert len(ages) >= 5 and 0.0 <= min(ages) and max(ages) <= 200.0  # max_codes_age 0.2 s
    node.acting.on_task(String(data="open the door"))  # a new task: codes of the old one are not used
    assert node.acting.runner.worker.codes_for(sent[-1], "open the door", 10.0, 0.0) is None
    assert node.set_parameters([Parameter("forward_mode", value="sync")])[0].successful and node.acting.runner.worker is None


def test_extra_cameras_pair_by_stamp_and_a_checkpoint_with_other_views_is_refused(tmp_path):
    rclpy.init()
    two = tiny_policy_checkpoint(tmp_path, cameras=("corner", "wrist"))
    try:
        single = PolicyNode(parameter_overrides=[Parameter("checkpoint", value=str(two))])
        assert single.acting.policy is None and "takes 2 camera view(s); this node has 1" in single.health.error
        single.destroy_node()
        node = PolicyNode(parameter_overrides=[Parameter("checkpoint", value=str(two)), Parameter("extra_cameras", value=["wrist"]),
                                               Parameter("state_names", value=NAMES), Parameter("max_state_age", value=1.0),
                                               Parameter("max_view_skew", value=0.02)])
        probe = Probe()
        probe.listen(JointTrajectory, "amplify/command")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.add_node(probe)
        node.acting.on_task(String(data="press the button"))
        now = time.time()
        assert spin_until(executor, lambda: probe.subscribers("camera/image_raw") or send_frame(probe, now))
        assert spin_until(executor, lambda: node.health.dropped["no_view"] > 0 or send_frame(probe, now))
        probe.send(Image, "wrist/image_raw", image(now - 0.1), qos_profile_sensor_data)  # 100 ms apart: not one moment
        assert spin_until(executor, lambda: node.health.dropped["view_skew"] > 0 or send_frame(probe, now))
        assert "wrist/image_raw's nearest frame is 100 ms" in node.health.error
        probe.send(Image, "wrist/image_raw", image(now + 0.01), qos_profile_sensor_data)
        assert spin_until(executor, lambda: answered(probe, now) or send_frame(probe, now))
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()
    finally:
        rclpy.shutdown()
