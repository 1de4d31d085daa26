"""forward_node, inverse_node, tracker_node (and policy_node on the helpers they share), over DDS.

Each test runs the node under test in its own graph (harness.Ros: its own context and DDS
domain), spins until what it waits for arrives or a deadline passes, and checks what came out.
Models are tiny and untrained: the tests are about wiring, headers and layouts, not predictions.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from harness import Ros
from messages import header_ago, image, joint_state
from rcl_interfaces.msg import Log
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header, String
from tiny import TINY_FORWARD, TINY_TOKENIZER
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.core.checkpoint import save_checkpoint
from amplify_ros.core.forward_model import ForwardConfig, ForwardModel
from amplify_ros.core.inverse_model import InverseConfig, InverseModel
from amplify_ros.core.tokenizer import MotionTokenizer, TokenizerConfig
from amplify_ros.core.tracks import grid_queries, square_to_source_xy
from amplify_ros.nodes.conversions import numpy_to_imgmsg
from amplify_ros.nodes.forward_node import ForwardNode
from amplify_ros.nodes.inverse_node import InverseNode
from amplify_ros.nodes.policy_node import PolicyNode
from amplify_ros.nodes.qos import latched_qos
from amplify_ros.nodes.tensor_msgs import codes_to_msg, msg_to_codes, msg_to_tracks, trajectory_to_chunk
from amplify_ros.nodes.tracker_node import TrackerNode

SIZE = 32  # model image side
SOURCE_HW = (40, 48)  # camera frames: not square, so the crop offset shows in the tracks
LEVELS = [4, 4]
RELIABLE_IMAGES = Parameter("image_qos", value="reliable")  # lockstep tests: no frame may be lost


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory) -> dict[str, Path]:
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("ckpt")
    stats = {"cameras": ["cam"]}
    tok = save_checkpoint(
        root / "tok", "tokenizer", MotionTokenizer(TokenizerConfig(image_size=SIZE, **TINY_TOKENIZER)), {}
    )
    fwd = ForwardModel(ForwardConfig(image_size=SIZE, fsq_levels=LEVELS, **TINY_FORWARD))
    fwd = save_checkpoint(root / "fwd", "forward", fwd, stats, {"tokenizer": tok})
    inverse = dict(image_size=SIZE, chunk=4, fsq_levels=LEVELS, **TINY_FORWARD)
    inv = save_checkpoint(root / "inv", "inverse", InverseModel(InverseConfig(**inverse)), stats, {"forward": fwd})
    bc = save_checkpoint(
        root / "bc", "bc", InverseModel(InverseConfig(use_codes=False, use_text=True, **inverse)), stats
    )
    return {"forward": fwd, "inverse": inv, "bc": bc}


def frame(header: Header, seed: int = 0) -> Image:
    return image(header, *SOURCE_HW, seed=seed)


def same(a: Header, b: Header) -> bool:
    return a.frame_id == b.frame_id and a.stamp.sec == b.stamp.sec and a.stamp.nanosec == b.stamp.nanosec


def send_task(ros: Ros, node: Node, sentence: str = "push the block") -> None:
    ros.publisher(String, "amplify/task", latched_qos()).publish(String(data=sentence))
    ros.spin_until(
        lambda: getattr(node, "acting", node).sentence == sentence, "the task sentence"
    )  # policy/inverse: acting


def send_state(ros: Ros, node: Node, pub, header: Header) -> None:
    pub.publish(joint_state(header, ["a", "b", "c", "d"], [0.1, 0.2, 0.3, 0.4]))
    ros.spin_until(lambda: len(node.acting.states) > 0, "the robot state")


def act_on_one_frame(ros: Ros, node: Node, outputs: list[list]) -> Header:
    """Send a robot state and a frame stamped now; wait until each of ``outputs`` has a message."""
    images = ros.publisher(Image, "camera/image_raw")
    states = ros.publisher(JointState, "joint_states", qos_profile_sensor_data)
    ros.connected()
    header = header_ago()
    send_state(ros, node, states, header)
    images.publish(frame(header))
    ros.spin_until(lambda: all(outputs), "the node's answer to one frame")
    return header


# --- forward_node -----------------------------------------------------------------------------
def test_forward_node_publishes_tokens_and_tracks_with_the_source_header(ros, checkpoints):
    node = ros.start(ForwardNode, Parameter("checkpoint", value=str(checkpoints["forward"])), RELIABLE_IMAGES)
    tokens, tracks = ros.listen(Image, "amplify/motion_tokens"), ros.listen(Image, "amplify/predicted_tracks")
    images = ros.publisher(Image, "camera/image_raw")
    send_task(ros, node)
    ros.connected()
    header = header_ago()
    images.publish(frame(header))
    ros.spin_until(lambda: tokens and tracks, "tokens and tracks")
    assert same(tokens[0].header, header) and same(tracks[0].header, header)
    assert tokens[0].encoding == "32SC1" and (tokens[0].height, tokens[0].width) == (1, 15)
    assert 0 <= msg_to_codes(tokens[0]).min() and msg_to_codes(tokens[0]).max() < 16
    assert tracks[0].encoding == "32FC2" and (tracks[0].height, tracks[0].width) == (16, 400)
    xy = msg_to_tracks(tracks[0])  # step 0 is the grid, in source pixels: crop offset (48 - 40) / 2 = 4 in x
    np.testing.assert_allclose(xy[0], square_to_source_xy(grid_queries(), *SOURCE_HW), atol=1e-4)
    assert 4 < xy[0, :, 0].min() and xy[0, :, 0].max() < 44


def test_forward_node_refuses_a_depth_image_with_an_error_then_goes_on(ros, checkpoints):
    node = ros.start(ForwardNode, Parameter("checkpoint", value=str(checkpoints["forward"])), RELIABLE_IMAGES)
    tokens = ros.listen(Image, "amplify/motion_tokens")
    logs = ros.listen(Log, "/rosout", QoSProfile(depth=100))
    images = ros.publisher(Image, "camera/image_raw")
    send_task(ros, node)
    ros.connected()
    images.publish(numpy_to_imgmsg(np.zeros(SOURCE_HW, np.uint16), "16UC1", header_ago()))
    ros.spin_until(
        lambda: any(m.level == Log.ERROR and m.name == "amplify_forward" and "16UC1" in m.msg for m in logs),
        "the error on /rosout",
    )
    assert node.health.dropped["bad_image"] == 1 and "16UC1" in node.health.error and not tokens
    good = header_ago()
    images.publish(frame(good))
    ros.spin_until(lambda: tokens, "tokens of the good frame")
    assert same(tokens[0].header, good) and node.health.processed == 1


def test_forward_node_publishes_nothing_for_a_stale_image(ros, checkpoints):
    node = ros.start(
        ForwardNode,
        Parameter("checkpoint", value=str(checkpoints["forward"])),
        RELIABLE_IMAGES,
        Parameter("max_image_age", value=0.5),
    )
    tokens = ros.listen(Image, "amplify/motion_tokens")
    images = ros.publisher(Image, "camera/image_raw")
    send_task(ros, node)
    ros.connected()
    images.publish(frame(header_ago(5.0)))
    ros.spin_until(lambda: node.health.dropped["stale_image"] == 1, "the stale frame to be refused")
    fresh = header_ago()
    images.publish(frame(fresh))
    ros.spin_until(lambda: tokens, "tokens of the fresh frame")
    assert len(tokens) == 1 and same(tokens[0].header, fresh)  # in order on one reliable link: nothing came before


# --- inverse_node -----------------------------------------------------------------------------
def test_inverse_node_pairs_tokens_with_their_image_and_drops_the_rest(ros, checkpoints):
    node = ros.start(InverseNode, Parameter("checkpoint", value=str(checkpoints["inverse"])), RELIABLE_IMAGES)
    chunks, commands = (
        ros.listen(JointTrajectory, "amplify/action_chunk"),
        ros.listen(JointTrajectory, "amplify/command"),
    )
    images = ros.publisher(Image, "camera/image_raw")
    states = ros.publisher(JointState, "joint_states", qos_profile_sensor_data)
    tokens = ros.publisher(Image, "amplify/motion_tokens")
    send_task(ros, node)
    ros.connected()
    old, first, second = header_ago(5.0), header_ago(0.02), header_ago(0.01)
    send_state(ros, node, states, first)
    for i, h in enumerate((old, first, second)):
        images.publish(frame(h, seed=i))
        ros.spin_until(lambda: len(node._waiting) == i + 1, f"image {i} in the buffer")
    codes = np.arange(15) % 16
    tokens.publish(codes_to_msg(codes, first))
    ros.spin_until(lambda: chunks and commands, "the action chunk")
    assert same(chunks[0].header, first) and same(commands[0].header, first)  # not the newest image's
    assert trajectory_to_chunk(chunks[0]).shape == (4, 4) and list(node._waiting) == [
        second.stamp.sec * 10**9 + second.stamp.nanosec
    ]

    tokens.publish(codes_to_msg(codes, header_ago()))  # no such image
    tokens.publish(codes_to_msg(codes, old))  # left the buffer when `first` was paired
    ros.spin_until(lambda: node.health.dropped["tokens_without_image"] == 2, "unpaired tokens to be counted")
    stale = header_ago(5.0)
    images.publish(frame(stale))
    ros.spin_until(lambda: len(node._waiting) == 2, "the stale image in the buffer")
    tokens.publish(codes_to_msg(codes, stale))
    ros.spin_until(lambda: node.health.dropped["stale_image"] == 1, "tokens of a stale image to be dropped")
    assert len(chunks) == 1 and node.health.processed == 1


def test_inverse_node_with_a_bc_checkpoint_acts_on_images(ros, checkpoints):
    node = ros.start(InverseNode, Parameter("checkpoint", value=str(checkpoints["bc"])), RELIABLE_IMAGES)
    chunks = ros.listen(JointTrajectory, "amplify/action_chunk")
    send_task(ros, node)
    header = act_on_one_frame(ros, node, [chunks])
    assert same(chunks[0].header, header) and not node._waiting


# --- policy_node on the shared helpers -----------------------------------------------------------
def test_policy_node_still_publishes_chunks_tokens_and_tracks(ros, checkpoints):
    node = ros.start(PolicyNode, Parameter("checkpoint", value=str(checkpoints["inverse"])), RELIABLE_IMAGES)
    chunks, tokens = ros.listen(JointTrajectory, "amplify/action_chunk"), ros.listen(Image, "amplify/motion_tokens")
    tracks = ros.listen(Image, "amplify/predicted_tracks")
    send_task(ros, node)
    header = act_on_one_frame(ros, node, [chunks, tokens, tracks])
    assert all(same(m[0].header, header) for m in (chunks, tokens, tracks))
    assert (tracks[0].height, tracks[0].width) == (16, 400)


def test_a_late_image_is_paired_with_the_state_stamped_with_it_not_the_newest(ros, checkpoints):
    node = ros.start(PolicyNode, Parameter("checkpoint", value=str(checkpoints["bc"])), RELIABLE_IMAGES)
    chunks = ros.listen(JointTrajectory, "amplify/action_chunk")
    images, states = (
        ros.publisher(Image, "camera/image_raw"),
        ros.publisher(JointState, "joint_states", qos_profile_sensor_data),
    )
    send_task(ros, node)
    ros.connected()
    taken = header_ago(0.3)  # the image comes 0.3 s after its state: more than max_state_age (0.2 s)
    send_state(ros, node, states, taken)
    states.publish(joint_state(header_ago(), ["a", "b", "c", "d"], [0.0] * 4))
    ros.spin_until(lambda: len(node.acting.states) == 2, "the newer state")
    images.publish(frame(taken))
    ros.spin_until(lambda: chunks, "the action chunk")
    assert same(chunks[0].header, taken) and not node.health.dropped


# --- tracker_node -----------------------------------------------------------------------------
TRACKED_HW = (80, 96)  # big enough that LK's coarsest pyramid level does not mix the square into flat rows


def moving_square(step: int) -> np.ndarray:
    """A 32 px textured square (rows 16-47, columns 16-47 at step 0) on flat grey, 1 px further
    right at every step. The texture is smooth noise: pixel-sized noise aliases in LK's pyramid."""
    image = np.full((*TRACKED_HW, 3), 90, np.uint8)
    noise = np.random.default_rng(7).integers(0, 255, (8, 8, 3), dtype=np.uint8)
    image[16:48, 16 + step : 48 + step] = cv2.resize(noise, (32, 32), interpolation=cv2.INTER_CUBIC)
    return image


def test_tracker_node_follows_a_translating_pattern(ros):
    node = ros.start(TrackerNode, Parameter("image_size", value=TRACKED_HW[0]), RELIABLE_IMAGES)
    windows = ros.listen(Image, "amplify/tracks")
    overlays = ros.listen(Image, "amplify/tracks/overlay", qos_profile_sensor_data)
    images = ros.publisher(Image, "camera/image_raw")
    ros.connected()
    headers = [header_ago(1.0 - 0.05 * k) for k in range(16)]
    for k, header in enumerate(headers):
        images.publish(numpy_to_imgmsg(moving_square(k), "rgb8", header))
        ros.spin_until(lambda: node.health.processed == k + 1, f"frame {k} to be tracked")
    ros.spin_until(lambda: windows and overlays, "the first window and its overlay")
    msg = windows[0]
    assert same(msg.header, headers[0]) and same(overlays[0].header, headers[0])
    assert msg.encoding == "32FC2" and (msg.height, msg.width) == (16, 400)
    xy = msg_to_tracks(msg)  # (16, 400, 2) source pixels (x, y): the 80 px crop starts at x = 8
    x, y = xy[0, :, 0], xy[0, :, 1]
    inside = (x > 16 + 4) & (x < 48 - 4) & (y > 16 + 4) & (y < 48 - 4)  # on the texture, away from its edges
    flat = y > 48 + 20  # rows the square never comes near
    assert inside.sum() == 36 and flat.sum() == 60
    motion = xy[-1] - xy[0]  # NaN where a point was lost
    np.testing.assert_allclose(motion[inside], np.broadcast_to([15.0, 0.0], (36, 2)), atol=0.1)
    assert np.abs(motion[flat]).max() < 0.1

    images.publish(numpy_to_imgmsg(moving_square(0), "rgb8", header_ago(2.0)))  # the bag looped
    ros.spin_until(lambda: node.health.processed == 17, "the looped frame")
    assert node.tracker.frames_seen == 1 and len(windows) == 1


def test_tracker_node_without_cotracker_files_says_what_is_missing(ros):
    node = ros.start(TrackerNode, Parameter("backend", value="cotracker"))
    assert node.tracker is None and "local checkout" in node.health.error and "cotracker_repo" in node.health.error
    node.on_image(numpy_to_imgmsg(moving_square(0), "rgb8", header_ago()))
    assert node.health.dropped["no_tracker"] == 1


# --- parameters -------------------------------------------------------------------------------
def test_parameter_changes_out_of_range_read_only_or_unloadable_are_rejected_with_a_reason(ros, checkpoints, tmp_path):
    node = ros.start(ForwardNode, Parameter("checkpoint", value=str(checkpoints["forward"])))
    client = AsyncParameterClient(ros.node, node.get_name())
    assert client.wait_for_services(timeout_sec=10.0)

    def set_one(name: str, value) -> tuple[bool, str]:
        future = client.set_parameters([Parameter(name, value=value)])
        ros.spin_until(future.done, f"the answer to setting {name}")
        result = future.result().results[0]
        return result.successful, result.reason

    ok, reason = set_one("max_image_age", -1.0)
    assert not ok and "max_image_age" in reason and "out of range" in reason
    ok, reason = set_one("device", "cuda")
    assert not ok and "read-only" in reason and "device" in reason
    ok, reason = set_one("checkpoint", str(tmp_path / "missing"))
    assert not ok and "missing" in reason and node.prior is not None and node.checkpoint == str(checkpoints["forward"])
    assert set_one("max_image_age", 2.0) == (True, "") and node.max_image_age == 2.0
