"""realsense_node over real DDS, fed by software devices: what it publishes, and how it survives
no camera, an unsupported mode and a camera that goes away and comes back."""

import time

import numpy as np
import pyrealsense2 as rs
import pytest
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from fake_realsense import FakeRealSense
from fake_realsense import stamp_ns as camera_ns
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from amplify_ros.nodes.bringup import build_nodes
from amplify_ros.nodes.conversions import imgmsg_to_numpy
from amplify_ros.nodes.realsense_node import RealSenseNode
from amplify_ros.nodes.stamps import stamp_ns

COLOR, COLOR_INFO = "camera/color/image_raw", "camera/color/camera_info"
DEPTH, DEPTH_INFO = "camera/aligned_depth_to_color/image_raw", "camera/aligned_depth_to_color/camera_info"
FAST = [
    Parameter("width", value=64),
    Parameter("height", value=48),
    Parameter("reconnect_period", value=0.1),
    Parameter("frame_timeout", value=0.3),
]


class Plug:
    """The node's device list: the fake camera while plugged in, nothing otherwise."""

    def __init__(self, fake: FakeRealSense, plugged: bool = True) -> None:
        self.fake, self.plugged = fake, plugged

    def __call__(self) -> list:
        return [self.fake.device] if self.plugged else []


@pytest.fixture
def start(ros):
    """start(plug, *parameters) -> (node, messages by topic: every camera topic and /diagnostics)."""

    def make(plug: Plug, *params: Parameter) -> tuple[RealSenseNode, dict[str, list]]:
        node = ros.start(RealSenseNode, *FAST, *params, devices=plug)
        got = {
            topic: ros.listen(kind, topic, qos_profile_sensor_data)
            for topic, kind in ((COLOR, Image), (COLOR_INFO, CameraInfo), (DEPTH, Image), (DEPTH_INFO, CameraInfo))
        }
        got["/diagnostics"] = ros.listen(DiagnosticArray, "/diagnostics")
        return node, got

    return make


def statuses(got: dict[str, list]) -> list[DiagnosticStatus]:
    return [s for d in got["/diagnostics"] for s in d.status]


def streams(ros, got: dict[str, list], fake: FakeRealSense, until=lambda: True) -> None:
    """Push frames until one comes out on camera/color/image_raw (and ``until()``)."""
    got[COLOR].clear()
    ros.spin_until(
        lambda: got[COLOR] and until(), "a colour frame out", between=lambda: fake.push(np.zeros((48, 64, 3), np.uint8))
    )


def test_frames_become_images_and_camera_info_stamped_with_the_capture_time(ros, start):
    fake = FakeRealSense(depth=True)
    node, got = start(Plug(fake), Parameter("align_depth", value=True))
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    depth = np.full((48, 64), 800, np.uint16)
    topics = (COLOR, COLOR_INFO, DEPTH, DEPTH_INFO)
    sent = []
    ros.spin_until(
        lambda: all(got[t] for t in topics),
        lambda: f"every camera topic; got {[len(got[t]) for t in topics]}",
        between=lambda: sent.append(fake.push(image, depth)),
    )
    color, info, aligned = got[COLOR][-1], got[COLOR_INFO][-1], got[DEPTH][-1]
    assert color.encoding == "rgb8" and np.array_equal(imgmsg_to_numpy(color), image)
    assert stamp_ns(color.header) in map(camera_ns, sent) and color.header.frame_id == "camera_color_optical_frame"
    assert info.header == color.header and aligned.header == color.header
    intr = fake.intrinsics
    assert (info.width, info.height, info.distortion_model) == (64, 48, "plumb_bob")
    assert np.allclose(info.k, [intr.fx, 0, intr.ppx, 0, intr.fy, intr.ppy, 0, 0, 1])
    assert np.allclose(info.p, [intr.fx, 0, intr.ppx, 0, 0, intr.fy, intr.ppy, 0, 0, 0, 1, 0])
    assert np.allclose(info.d, intr.coeffs)
    assert aligned.encoding == "16UC1" and set(np.unique(imgmsg_to_numpy(aligned))) <= {0, 800}
    assert np.array_equal(got[DEPTH_INFO][-1].k, info.k)

    before = time.time_ns()  # frames on the camera's own clock are stamped on arrival, by the node clock
    ros.spin_until(
        lambda: stamp_ns(got[COLOR][-1].header) > before,
        "a frame stamped on arrival",
        between=lambda: fake.push(image, depth, rs.timestamp_domain.hardware_clock),
    )
    assert stamp_ns(got[COLOR][-1].header) < time.time_ns()


def test_no_camera_is_reported_the_node_keeps_running_and_streams_once_one_appears(ros, start):
    plug = Plug(FakeRealSense(), plugged=False)
    node, got = start(plug)
    ros.spin_until(lambda: statuses(got), "a status on /diagnostics")
    status = statuses(got)[-1]
    assert status.level == DiagnosticStatus.ERROR and status.message.startswith("no RealSense camera found")
    assert {v.key: v.value for v in status.values}["status"] == "waiting for camera"
    assert not got[COLOR]

    plug.plugged = True  # plugged in
    streams(ros, got, plug.fake)
    streams(ros, got, plug.fake, until=lambda: statuses(got)[-1].level == DiagnosticStatus.OK)

    plug.plugged = False  # unplugged: frames stop and the device is gone
    ros.spin_until(lambda: node.health.error.startswith("no RealSense camera found"), "the camera to be missed")
    assert node.driver.camera is None and node.health.status == "waiting for camera"

    plug.plugged = True  # plugged in again
    streams(ros, got, plug.fake)
    assert node.health.status == "running" and node.health.error == ""


def test_an_unsupported_mode_is_reported_with_the_supported_ones(ros, start):
    node, got = start(Plug(FakeRealSense()), Parameter("width", value=640), Parameter("height", value=480))
    ros.spin_until(lambda: any(s.level == DiagnosticStatus.ERROR for s in statuses(got)), "an error on /diagnostics")
    message = statuses(got)[-1].message
    assert "has no 640x480 @ 30 fps rgb8 colour mode; supported: 64x48 @ 15/30 fps, 32x24 @ 15/30 fps" in message


def test_parameters_are_described_and_the_node_starts_from_a_bringup_config(ros, tmp_path):
    config = tmp_path / "camera.yaml"  # a serial of digits must be quoted, or rcl reads a number
    config.write_text(
        "amplify_bringup:\n  ros__parameters:\n    nodes: [realsense_node]\n"
        "amplify_realsense:\n  ros__parameters:\n    fps: 15\n    serial: '000123456789'\n"
    )
    (node,) = build_nodes(config)
    ros.add(node)
    assert node.get_name() == "amplify_realsense"
    assert node.get_parameter("fps").value == 15 and node.get_parameter("serial").value == "000123456789"
    desc = node.describe_parameter("frame_timeout")
    assert desc.description and desc.floating_point_range[0].to_value == 60.0
    results = node.set_parameters(
        [Parameter("fps", value=60), Parameter("image_qos", value="fast"), Parameter("reconnect_period", value=0.5)]
    )
    assert [r.successful for r in results] == [False, False, True]
    assert "read-only" in results[0].reason and node.driver.reconnect_period == 0.5
