"""realsense_node over real DDS, fed by software devices: what it publishes, and how it survives
no camera, an unsupported mode and a camera that goes away and comes back."""

import time

import numpy as np
import pyrealsense2 as rs
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from rclpy.executors import SingleThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image

from amplify_ros.nodes.bringup import build_nodes
from amplify_ros.nodes.conversions import imgmsg_to_numpy
from amplify_ros.nodes.realsense_node import RealSenseNode
from fake_realsense import FakeRealSense, stamp_ns
from ros_probe import Probe, spin_until

COLOR, COLOR_INFO = "camera/color/image_raw", "camera/color/camera_info"
DEPTH, DEPTH_INFO = "camera/aligned_depth_to_color/image_raw", "camera/aligned_depth_to_color/camera_info"
FAST = [Parameter("width", value=64), Parameter("height", value=48), Parameter("reconnect_period", value=0.1),
        Parameter("frame_timeout", value=0.3)]


class Plug:
    """The node's device list: the fake camera while plugged in, nothing otherwise."""

    def __init__(self, fake: FakeRealSense, plugged: bool = True) -> None:
        self.fake, self.plugged = fake, plugged

    def __call__(self) -> list:
        return [self.fake.device] if self.plugged else []


@pytest.fixture
def start():
    """start(plug, *parameters) -> (executor, node, probe listening to every camera topic and /diagnostics)."""
    rclpy.init()
    made = []

    def make(plug: Plug, *params: Parameter):
        node = RealSenseNode(devices=plug, parameter_overrides=[*FAST, *params])
        probe = Probe()
        for topic, kind in ((COLOR, Image), (COLOR_INFO, CameraInfo), (DEPTH, Image), (DEPTH_INFO, CameraInfo)):
            probe.listen(kind, topic, qos_profile_sensor_data)
        probe.listen(DiagnosticArray, "/diagnostics")
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        executor.add_node(probe)
        made.append((executor, node, probe))
        return executor, node, probe
    yield make
    for executor, node, probe in made:
        executor.shutdown()
        node.destroy_node()
        probe.destroy_node()
    rclpy.shutdown()


def ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def statuses(probe: Probe) -> list[DiagnosticStatus]:
    return [s for d in probe.got["/diagnostics"] for s in d.status]


def streams(executor, probe: Probe, fake: FakeRealSense, until=None) -> bool:
    """Push frames until one comes out on camera/color/image_raw (and ``until()``)."""
    probe.got[COLOR].clear()
    return spin_until(executor, lambda: fake.push(np.zeros((48, 64, 3), np.uint8)) and bool(probe.got[COLOR])
                      and (until is None or until()), 5.0)


def test_frames_become_images_and_camera_info_stamped_with_the_capture_time(start):
    fake = FakeRealSense(depth=True)
    executor, node, probe = start(Plug(fake), Parameter("align_depth", value=True))
    image = np.random.default_rng(1).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    depth = np.full((48, 64), 800, np.uint16)
    topics = (COLOR, COLOR_INFO, DEPTH, DEPTH_INFO)
    sent = []
    assert spin_until(executor, lambda: sent.append(fake.push(image, depth)) or all(probe.got[t] for t in topics),
                      10.0), {t: len(probe.got[t]) for t in topics}
    color, info, aligned = probe.got[COLOR][-1], probe.got[COLOR_INFO][-1], probe.got[DEPTH][-1]
    assert color.encoding == "rgb8" and np.array_equal(imgmsg_to_numpy(color), image)
    assert ns(color) in map(stamp_ns, sent) and color.header.frame_id == "camera_color_optical_frame"
    assert info.header == color.header and aligned.header == color.header
    intr = fake.intrinsics
    assert (info.width, info.height, info.distortion_model) == (64, 48, "plumb_bob")
    assert np.allclose(info.k, [intr.fx, 0, intr.ppx, 0, intr.fy, intr.ppy, 0, 0, 1])
    assert np.allclose(info.p, [intr.fx, 0, intr.ppx, 0, 0, intr.fy, intr.ppy, 0, 0, 0, 1, 0])
    assert np.allclose(info.d, intr.coeffs)
    assert aligned.encoding == "16UC1" and set(np.unique(imgmsg_to_numpy(aligned))) <= {0, 800}
    assert np.array_equal(probe.got[DEPTH_INFO][-1].k, info.k)

    before = time.time_ns()  # frames on the camera's own clock are stamped on arrival, by the node clock
    assert spin_until(executor, lambda: fake.push(image, depth, rs.timestamp_domain.hardware_clock)
                      and ns(probe.got[COLOR][-1]) > before)
    assert ns(probe.got[COLOR][-1]) < time.time_ns()


def test_no_camera_is_reported_the_node_keeps_running_and_streams_once_one_appears(start):
    plug = Plug(FakeRealSense(), plugged=False)
    executor, node, probe = start(plug)
    assert spin_until(executor, lambda: bool(statuses(probe)), 5.0)
    status = statuses(probe)[-1]
    assert status.level == DiagnosticStatus.ERROR and status.message.startswith("no RealSense camera found")
    assert {v.key: v.value for v in status.values}["status"] == "waiting for camera"
    assert not probe.got[COLOR]

    plug.plugged = True  # plugged in
    assert streams(executor, probe, plug.fake)
    assert streams(executor, probe, plug.fake, until=lambda: statuses(probe)[-1].level == DiagnosticStatus.OK)

    plug.plugged = False  # unplugged: frames stop and the device is gone
    assert spin_until(executor, lambda: node.health.error.startswith("no RealSense camera found"), 5.0)
    assert node.driver.camera is None and node.health.status == "waiting for camera"

    plug.plugged = True  # plugged in again
    assert streams(executor, probe, plug.fake)
    assert node.health.status == "running" and node.health.error == ""


def test_an_unsupported_mode_is_reported_with_the_supported_ones(start):
    executor, node, probe = start(Plug(FakeRealSense()), Parameter("width", value=640), Parameter("height", value=480))
    assert spin_until(executor, lambda: any(s.level == DiagnosticStatus.ERROR for s in statuses(probe)), 5.0)
    message = statuses(probe)[-1].message
    assert "has no 640x480 @ 30 fps rgb8 colour mode; supported: 64x48 @ 15/30 fps, 32x24 @ 15/30 fps" in message


def test_parameters_are_described_and_the_node_starts_from_a_bringup_config(tmp_path):
    config = tmp_path / "camera.yaml"  # a serial of digits must be quoted, or rcl reads a number
    config.write_text("amplify_bringup:\n  ros__parameters:\n    nodes: [realsense_node]\n"
                      "amplify_realsense:\n  ros__parameters:\n    fps: 15\n    serial: '000123456789'\n")
    rclpy.init()
    try:
        (node,) = build_nodes(config)
        try:
            assert node.get_name() == "amplify_realsense"
            assert node.get_parameter("fps").value == 15 and node.get_parameter("serial").value == "000123456789"
            desc = node.describe_parameter("frame_timeout")
            assert desc.description and desc.floating_point_range[0].to_value == 60.0
            results = node.set_parameters([Parameter("fps", value=60), Parameter("image_qos", value="fast"),
                                           Parameter("reconnect_period", value=0.5)])
            assert [r.successful for r in results] == [False, False, True]
            assert "read-only" in results[0].reason and node.driver.reconnect_period == 0.5
        finally:
            node.destroy_node()
    finally:
        rclpy.shutdown()
