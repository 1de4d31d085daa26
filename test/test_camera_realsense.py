"""RealSense without hardware: software devices and recordings through RealSenseCamera."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyrealsense2 as rs
import pytest
from fake_realsense import SERIAL, FakeRealSense, intrinsics, stamp_ns, write_bag

from amplify_ros.camera.realsense import Mode, RealSenseCamera, format_modes, ros_intrinsics, select_device
from amplify_ros.camera.stream import CameraError


def test_distortion_models_map_to_camera_info_terms():
    plumb = ros_intrinsics(intrinsics(64, 48, rs.distortion.inverse_brown_conrady, (0.5, -0.25, 0.125, 0.0, 1.0)))
    assert (plumb.distortion_model, plumb.d) == ("plumb_bob", (0.5, -0.25, 0.125, 0.0, 1.0))
    assert np.array_equal(plumb.k(), [[57.599998474121094, 0, 31.75], [0, 60.79999923706055, 24.5], [0, 0, 1]])
    fisheye = ros_intrinsics(intrinsics(64, 48, rs.distortion.kannala_brandt4, (0.5, -0.25, 0.125, 0.0625, 0.0)))
    assert (fisheye.distortion_model, fisheye.d) == ("equidistant", (0.5, -0.25, 0.125, 0.0625))
    pinhole = ros_intrinsics(intrinsics(64, 48, rs.distortion.none, (0.5, 0.5, 0.5, 0.5, 0.5)))
    assert (pinhole.distortion_model, pinhole.d) == ("plumb_bob", (0.0,) * 5)
    with pytest.raises(CameraError, match="ftheta distortion model has no sensor_msgs/CameraInfo"):
        ros_intrinsics(intrinsics(64, 48, rs.distortion.ftheta))


def test_frames_come_out_as_the_pushed_pixels_with_their_stamps():
    fake = FakeRealSense()
    camera = RealSenseCamera(fake.device, Mode(64, 48, 30), align_depth=False)
    try:
        assert camera.description == f"Intel RealSense D435 (software) (serial {SERIAL}) 64x48 @ 30 fps rgb8"
        assert camera.intrinsics == ros_intrinsics(fake.intrinsics)
        image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
        stamp = fake.push(image)
        got = camera.read(1.0)
        assert np.array_equal(got.color, image) and got.color.flags.c_contiguous
        assert (got.stamp_ns, got.number, got.depth) == (stamp_ns(stamp), 1, None)
        fake.push(image, domain=rs.timestamp_domain.hardware_clock)  # the camera's own clock
        assert camera.read(1.0).stamp_ns is None
        assert camera.read(0.01) is None  # nothing pushed: a timeout, not an error
    finally:
        camera.close()


def test_depth_is_aligned_to_colour_and_published_in_millimetres():
    fake = FakeRealSense(depth=True, model=rs.distortion.none, depth_units=0.0001)  # 0.1 mm units (D405)
    camera = RealSenseCamera(fake.device, Mode(64, 48, 30), align_depth=True)
    try:
        depth = np.full((48, 64), 12_340, np.uint16)
        depth[10:20, 20:30] = 5_000
        color = np.zeros((48, 64, 3), np.uint8)
        got = None
        for _ in range(4):  # the syncer pairs the streams from the second frame on
            fake.push(color, depth)
            got = camera.read(1.0)
            if got is not None and got.depth is not None:
                break
        assert got.depth.dtype == np.uint16 and got.depth.shape == (48, 64)
        valid = got.depth > 0  # rs.align leaves holes (0) at edges and steps, as it does on a camera
        assert valid.mean() > 0.9 and np.array_equal(got.depth[valid], (depth // 10)[valid])
    finally:
        camera.close()


def test_device_selection_says_what_is_connected():
    fake = FakeRealSense()
    with pytest.raises(CameraError, match="no RealSense camera found"):
        select_device([], "")
    assert select_device([fake.device], "") is fake.device
    assert select_device([fake.device], SERIAL) is fake.device
    with pytest.raises(CameraError, match=f"no RealSense camera with serial '42'; connected: .*serial {SERIAL}"):
        select_device([fake.device], "42")


def test_an_unsupported_mode_names_the_supported_ones():
    fake = FakeRealSense(sizes=((64, 48), (32, 24)), rates=(30, 15))
    with pytest.raises(
        CameraError,
        match=r"has no 640x480 @ 30 fps rgb8 colour mode; supported: "
        r"64x48 @ 15/30 fps, 32x24 @ 15/30 fps$",
    ):
        RealSenseCamera(fake.device, Mode(640, 480, 30), align_depth=False)
    assert format_modes([]) == "none"


def recorded_db3(path: Path, images: list[np.ndarray]) -> tuple[list[float], rs.intrinsics]:
    """What the software device streams, recorded by rs.recorder (librealsense 2.59 writes .db3 only)."""
    fake = FakeRealSense()
    recorder = rs.recorder(str(path), fake.device)
    camera = RealSenseCamera(recorder, Mode(64, 48, 30), align_depth=False)
    stamps = []
    for image in images:
        stamps.append(fake.push(image))
        assert camera.read(1.0).number == len(stamps)
    camera.close()
    del camera, recorder  # the file is complete once the recorder is gone
    return stamps, fake.intrinsics


@pytest.mark.parametrize("name, record", [("take.db3", recorded_db3), ("take.bag", write_bag)])
def test_a_recording_plays_back_through_the_same_code(tmp_path, name, record):
    """rs.recorder's ROS 2 .db3 and a legacy ROS 1 .bag: each file is a device to open."""
    images = [np.full((48, 64, 3), 10 * n, np.uint8) for n in range(1, 4)]
    stamps, intr = record(tmp_path / name, images)
    playback = rs.context().load_device(str(tmp_path / name))
    playback.as_playback().set_real_time(False)
    assert select_device([playback], SERIAL) is playback
    camera = RealSenseCamera(playback, Mode(64, 48, 30), align_depth=False)
    try:
        assert camera.intrinsics == ros_intrinsics(intr)
        played = [camera.read(1.0) for _ in images]
        assert [f.number for f in played] == [1, 2, 3]
        assert all(np.array_equal(f.color, image) for f, image in zip(played, images))
        assert [f.stamp_ns for f in played] == [stamp_ns(t) for t in stamps]
    finally:
        camera.close()


def test_the_driver_imported_before_ros_leaves_a_process_that_exits_cleanly():
    """pyrealsense2 bundles Fast DDS and rcutils: loaded before ROS's, the process crashed on exit."""
    code = (
        "import amplify_ros.camera.realsense, rclpy; from rclpy.node import Node; "
        "rclpy.init(); Node('exit_check').destroy_node(); rclpy.shutdown()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
