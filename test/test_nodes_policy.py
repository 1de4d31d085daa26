"""policy_node over real DDS: what it publishes, what it refuses, and its parameters."""

import time
from dataclasses import dataclass

import numpy as np
import pytest
from diagnostic_msgs.msg import DiagnosticArray
from messages import header, image, joint_state
from rclpy.parameter import Parameter
from rclpy.publisher import Publisher
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from tiny import tiny_policy_checkpoint
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.nodes.policy_node import PolicyNode
from amplify_ros.nodes.qos import latched_qos
from amplify_ros.nodes.stamps import stamp_ns
from amplify_ros.nodes.tensor_msgs import msg_to_codes, msg_to_tracks, trajectory_to_chunk

NAMES = ["ee_x", "ee_y", "ee_z", "gripper"]
OUTPUTS = {
    "amplify/action_chunk": JointTrajectory,
    "amplify/command": JointTrajectory,
    "amplify/motion_tokens": Image,
    "amplify/predicted_tracks": Image,
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return tiny_policy_checkpoint(tmp_path_factory.mktemp("ckpt"))


@dataclass
class Graph:
    """The policy node under test, what it published (by topic) and the links that feed it."""

    node: PolicyNode
    got: dict[str, list]
    states: Publisher
    images: Publisher

    def send(self, stamp: float, encoding: str = "rgb8", state=(0.0, 0.6, 0.2, 1.0)) -> None:
        self.states.publish(joint_state(stamp, NAMES, list(state)))
        self.images.publish(image(stamp, encoding=encoding))

    def answered(self, stamp: float) -> bool:
        """Whether a command came back for the frame stamped ``stamp``."""
        return any(stamp_ns(c.header) == stamp_ns(header(stamp)) for c in self.got["amplify/command"])


def inputs(ros, node: PolicyNode) -> Graph:
    """Listeners on every output and /diagnostics, and the camera and joint-state links, matched."""
    got = {topic: ros.listen(kind, topic) for topic, kind in OUTPUTS.items()}
    got["/diagnostics"] = ros.listen(DiagnosticArray, "/diagnostics")
    graph = Graph(
        node,
        got,
        ros.publisher(JointState, "joint_states", qos_profile_sensor_data),
        ros.publisher(Image, "camera/image_raw", qos_profile_sensor_data),
    )
    ros.connected()
    return graph


@pytest.fixture
def graph(ros, checkpoint) -> Graph:
    """The policy node with the task sentence, fed and listened to by the test."""
    node = ros.start(
        PolicyNode,
        Parameter("checkpoint", value=str(checkpoint)),
        Parameter("state_names", value=NAMES),
        Parameter("max_state_age", value=1.0),
    )
    ros.publisher(String, "amplify/task", latched_qos()).publish(String(data="press the button"))
    ros.spin_until(lambda: node.acting.sentence == "press the button", "the task sentence")
    return inputs(ros, node)


def act(ros, graph: Graph) -> float:
    """Send frames stamped now, a new one each second, until the last one sent is answered; its
    stamp. Both links have matched then, and no earlier frame is still on its way (answers come in order)."""
    sent: list[float] = []

    def resend() -> None:
        if not sent or time.time() - sent[-1] > 1.0:
            sent.append(time.time())
            graph.send(sent[-1])

    ros.spin_until(lambda: sent and graph.answered(sent[-1]), "the answer to a frame", between=resend)
    return sent[-1]


def test_a_frame_gives_chunk_command_tokens_and_tracks_with_the_image_header(ros, graph):
    want = stamp_ns(header(act(ros, graph)))
    ros.spin_until(
        lambda: all(any(stamp_ns(m.header) == want for m in graph.got[t]) for t in OUTPUTS),
        "every output for the frame",
    )
    out = {t: next(m for m in graph.got[t] if stamp_ns(m.header) == want) for t in OUTPUTS}  # all from one image
    chunk_msg = out["amplify/action_chunk"]
    assert chunk_msg.header.frame_id == "cam"
    chunk = trajectory_to_chunk(chunk_msg)
    assert chunk.shape == (4, 4) and chunk_msg.joint_names == ["a0", "a1", "a2", "a3"]
    assert chunk_msg.points[1].time_from_start.nanosec == 12_500_000  # action_period 0.0125 s
    command = trajectory_to_chunk(out["amplify/command"])
    assert command.shape == (1, 4) and np.all(np.abs(command) <= 1.0)
    codes = msg_to_codes(out["amplify/motion_tokens"])
    assert codes.shape == (15,) and codes.min() >= 0 and codes.max() < 16
    tracks = msg_to_tracks(out["amplify/predicted_tracks"])
    assert tracks.shape == (16, 400, 2)
    x, y = tracks[0, :, 0], tracks[0, :, 1]  # step 0 is the grid, in the 64x48 source image
    assert 8 <= x.min() < x.max() <= 56 and 0 <= y.min() < y.max() <= 48  # inside the centre 48x48 square


def test_a_wrong_encoding_is_refused_and_the_node_keeps_going(ros, graph):
    node = graph.node
    act(ros, graph)
    graph.send(bad := time.time(), encoding="16UC1")
    ros.spin_until(lambda: node.health.dropped["bad_image"] == 1, "the depth frame to be refused")
    assert "not a colour camera encoding" in node.health.error
    graph.send(good := time.time())
    ros.spin_until(lambda: graph.answered(good), "the answer to the next colour frame")
    assert not graph.answered(bad)  # answers come in order: none came for the refused frame


def test_stale_images_and_bad_states_publish_nothing(ros, graph):
    node = graph.node
    act(ros, graph)
    stale = node.health.dropped["stale_image"]  # a frame of act's may have been late too
    graph.send(old := time.time() - 5.0)  # max_image_age 0.5 s
    ros.spin_until(lambda: node.health.dropped["stale_image"] > stale, "the 5 s old frame to be refused")
    now = time.time()
    graph.states.publish(joint_state(now, NAMES, [0.0, float("nan"), 0.2, 1.0]))
    ros.spin_until(
        lambda: node.health.dropped["bad_state"] == 1, "the NaN state to be refused"
    )  # on arrival: never paired
    assert "not finite" in node.health.error
    graph.images.publish(image(now))
    ros.spin_until(
        lambda: node.health.dropped["stale_state"] == 1, "the frame to find no fresh state"
    )  # the others are 5 s away
    graph.send(good := time.time())
    ros.spin_until(lambda: graph.answered(good), "the answer to a good frame after them")
    assert not graph.answered(old) and not graph.answered(now)  # answers come in order
    ros.spin_until(
        lambda: any(
            s.values and any(v.key == "dropped_stale_image" for v in s.values)
            for d in graph.got["/diagnostics"]
            for s in d.status
        ),
        "the drops on /diagnostics",
    )


def test_chunks_from_before_a_camera_outage_are_not_executed_after_it(ros, graph):
    node, chunks = graph.node, graph.got["amplify/action_chunk"]
    act(ros, graph)
    assert node.set_parameters([Parameter("ensemble", value="open-loop"), Parameter("execute_steps", value=4)])
    graph.send(stamp := time.time())
    ros.spin_until(lambda: graph.answered(stamp), "the answer to the first open-loop frame")
    n = len(chunks)
    graph.send(stamp := time.time())  # the chunk has actions left: no new one
    ros.spin_until(lambda: graph.answered(stamp), "the answer to the second frame")
    assert len(chunks) == n
    ros.spin_for(node.acting.max_image_age + 0.1)  # the camera stops for longer than max_image_age
    graph.send(stamp := time.time())
    ros.spin_until(lambda: graph.answered(stamp), "the answer to the frame after the outage")
    assert len(chunks) == n + 1  # predicted afresh, not the old chunk's rest


def test_parameters_are_described_ranged_and_rejected_with_a_reason(ros, graph, tmp_path):
    node = graph.node
    desc = node.describe_parameter("ensemble_k")
    assert desc.description and desc.floating_point_range[0].to_value == 1.0
    results = node.set_parameters(
        [
            Parameter("ensemble_k", value=3.0),
            Parameter("ensemble", value="sometimes"),
            Parameter("state_names", value=["x"]),
        ]
    )
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
    assert (
        node.acting.policy.motion.code_decoding == "parallel" and node.acting.policy.runtime == "onnxruntime"
    )  # the defaults
    assert (
        node.set_parameters([Parameter("runtime", value="torch")])[0].successful
        and node.acting.policy.motion._graph is None
    )
    act(ros, graph)  # acts on codes from the parallel head


def test_a_missing_checkpoint_is_reported_and_the_node_stays_up(ros):
    node = ros.start(PolicyNode, Parameter("checkpoint", value="/nonexistent/run"))
    assert node.acting.policy is None and "no checkpoint here" in node.health.error
    node.acting.act(image(time.time()))  # must not raise
    assert node.health.dropped["no_model"] == 1


def test_async_forward_mode_acts_with_recent_codes_and_publishes_them_with_their_own_frame(ros, graph):
    node, got = graph.node, graph.got
    sent = [act(ros, graph)]  # its tokens may come after the clear
    assert (
        node.set_parameters([Parameter("forward_mode", value="async")])[0].successful
        and node.acting.runner.worker is not None
    )
    for messages in got.values():
        messages.clear()

    def send() -> None:
        sent.append(time.time())
        graph.send(sent[-1])
        ros.spin_for(0.03)

    ros.spin_until(lambda: len(got["amplify/command"]) >= 5, "five commands", between=send)
    frames = {stamp_ns(header(s)) for s in sent}
    token_stamps = [stamp_ns(m.header) for m in got["amplify/motion_tokens"]]
    assert token_stamps and set(token_stamps) <= frames  # each set of codes carries the frame it came from
    ages = node.health.stages_ms["codes_age_ms"]
    assert len(ages) >= 5 and 0.0 <= min(ages) and max(ages) <= 200.0  # max_codes_age 0.2 s
    node.acting.on_task(String(data="open the door"))  # a new task: codes of the old one are not used
    assert node.acting.runner.worker.codes_for(sent[-1], "open the door", 10.0, 0.0) is None
    assert (
        node.set_parameters([Parameter("forward_mode", value="sync")])[0].successful
        and node.acting.runner.worker is None
    )


def test_extra_cameras_pair_by_stamp_and_a_checkpoint_with_other_views_is_refused(ros, tmp_path):
    two = tiny_policy_checkpoint(tmp_path, cameras=("corner", "wrist"))
    single = PolicyNode(parameter_overrides=[Parameter("checkpoint", value=str(two))])
    assert single.acting.policy is None and "takes 2 camera view(s); this node has 1" in single.health.error
    single.destroy_node()
    node = ros.start(
        PolicyNode,
        Parameter("checkpoint", value=str(two)),
        Parameter("extra_cameras", value=["wrist"]),
        Parameter("state_names", value=NAMES),
        Parameter("max_state_age", value=1.0),
        Parameter("max_view_skew", value=0.02),
    )
    wrist = ros.publisher(Image, "wrist/image_raw", qos_profile_sensor_data)
    graph = inputs(ros, node)
    node.acting.on_task(String(data="press the button"))
    now = time.time()
    ros.spin_until(
        lambda: node.health.dropped["no_view"] > 0,
        "a frame refused for want of a wrist view",
        between=lambda: graph.send(now),
    )
    wrist.publish(image(now - 0.1))  # 100 ms apart: not one moment
    ros.spin_until(
        lambda: node.health.dropped["view_skew"] > 0, "a frame refused for the skew", between=lambda: graph.send(now)
    )
    assert "wrist/image_raw's nearest frame is 100 ms" in node.health.error
    wrist.publish(image(now + 0.01))
    ros.spin_until(lambda: graph.answered(now), "the answer to both views", between=lambda: graph.send(now))
