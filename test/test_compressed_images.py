"""Compressed camera topics as image_transport's compressed plugin makes them: the encoder, the
sim bridge and RealSense nodes publishing them, the recorder recording them, import-bag reading them."""

import numpy as np
import pytest
import test_nodes_realsense
import yaml
from fake_realsense import FakeRealSense
from rclpy.exceptions import InvalidParameterValueException
from rclpy.parameter import Parameter
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import String
from test_nodes_realsense import COLOR, Plug
from test_nodes_record import REPO, record_next_sim_episode
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.data.bag_reader import BagReader
from amplify_ros.data.episode import read_episode
from amplify_ros.data.image_msgs import ImageConversionError, compress_rgb, compressed_to_rgb, jpeg_round_trip
from amplify_ros.nodes import camera_msgs
from amplify_ros.nodes.bringup import build_nodes
from amplify_ros.nodes.conversions import imgmsg_to_numpy
from amplify_ros.nodes.realsense_node import RealSenseNode
from amplify_ros.nodes.sim_bridge_node import SimBridgeNode
from amplify_ros.nodes.stamps import stamp_ns
from amplify_ros.train.data_cli import main as data_main

COMPRESSED = f"{COLOR}/compressed"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def smooth_image(h: int = 48, w: int = 64) -> np.ndarray:
    """A camera-like image (gradients and an edge), where jpeg does what it does on real frames."""
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.stack([x * 255 // w, y * 255 // h, np.where(x > w // 2, 200, 40)], axis=-1)
    return rgb.astype(np.uint8)


def test_compress_rgb_writes_image_transports_format_and_decodes_back():
    rgb = smooth_image()
    fmt, data = compress_rgb(rgb, "png", png_level=9)
    assert fmt == "rgb8; png compressed bgr8" and data[:4] == b"\x89PNG"
    assert np.array_equal(compressed_to_rgb(CompressedImage(format=fmt, data=data)), rgb)  # lossless, channels kept
    fmt, data = compress_rgb(rgb, "jpeg", jpeg_quality=90)
    assert fmt == "rgb8; jpeg compressed bgr8" and data[:2] == b"\xff\xd8"
    assert psnr(compressed_to_rgb(CompressedImage(format=fmt, data=data)), rgb) > 30  # chroma subsampled at the edge
    assert len(compress_rgb(rgb, "jpeg", jpeg_quality=50)[1]) < len(data)
    assert psnr(jpeg_round_trip(rgb, 90), rgb) > 30
    for bad in ({"fmt": "webp"}, {"fmt": "jpeg", "jpeg_quality": 0}, {"fmt": "png", "png_level": 10}):
        with pytest.raises(ValueError):
            compress_rgb(rgb, **bad)
    with pytest.raises(ImageConversionError):
        compress_rgb(rgb[..., 0], "jpeg")


def bridge(ros, compression: str, **params) -> SimBridgeNode:
    ros.publisher(JointTrajectory, "amplify/command")  # lockstep sends frames once someone could answer them
    return ros.start(
        SimBridgeNode,
        Parameter("image_size", value=64),
        Parameter("command_timeout", value=0.1),
        Parameter("reset_pause", value=0.0),
        Parameter("compression", value=compression),
        *(Parameter(k, value=v) for k, v in params.items()),
    )


@pytest.mark.parametrize("compression", ["jpeg", "png"])
def test_the_sim_bridge_publishes_decodable_compressed_frames_with_the_raw_frames_header(ros, compression):
    bridge(ros, compression, extra_cameras=["corner2"])
    raw, packed = ros.listen(Image, "camera/image_raw"), ros.listen(CompressedImage, "camera/image_raw/compressed")
    packed2 = ros.listen(CompressedImage, "corner2/image_raw/compressed")
    ros.spin_until(lambda: len(packed) >= 2 and len(packed2) >= 2, "two compressed frames of each camera")
    ros.spin_until(lambda: len(raw) >= len(packed), "the raw frames of the compressed ones")
    by_stamp = {stamp_ns(m.header): imgmsg_to_numpy(m) for m in raw}
    for msg in packed:
        assert msg.format == f"rgb8; {compression} compressed bgr8"
        assert msg.header.frame_id == "camera_optical_frame" and stamp_ns(msg.header) in by_stamp
        decoded = compressed_to_rgb(msg)
        if compression == "png":
            assert np.array_equal(decoded, by_stamp[stamp_ns(msg.header)])
        else:
            assert psnr(decoded, by_stamp[stamp_ns(msg.header)]) > 30
    assert packed2[0].header.frame_id == "corner2_optical_frame"


def test_nothing_compressed_is_published_when_off_nor_encoded_without_a_subscriber(ros, monkeypatch):
    encoded = []
    monkeypatch.setattr(camera_msgs, "compress_rgb", lambda *a: encoded.append(a) or ("", b""))
    raw = ros.listen(Image, "camera/image_raw")
    node = bridge(ros, "none")
    ros.spin_until(lambda: len(raw) >= 2, "two raw frames")
    assert not node.get_publishers_info_by_topic("/camera/image_raw/compressed") and not encoded
    ros.destroy(node)
    raw.clear()
    node = bridge(ros, "jpeg")  # the topic exists; with nobody subscribed, no frame is encoded
    ros.spin_until(lambda: len(raw) >= 2, "two raw frames")
    assert node.get_publishers_info_by_topic("/camera/image_raw/compressed") and not encoded


start = test_nodes_realsense.start  # the RealSense node tests' fixture, which camera builds on


@pytest.fixture
def camera(ros, request):
    """camera(*parameters) -> (node, messages by topic, the compressed stream's too, fake camera)."""
    start = request.getfixturevalue("start")

    def make(*params: Parameter):
        fake = FakeRealSense()
        node, got = start(Plug(fake), *params)
        got[COMPRESSED] = ros.listen(CompressedImage, COMPRESSED, qos_profile_sensor_data)
        return node, got, fake

    return make


def test_realsense_publishes_the_colour_image_compressed_with_its_header(ros, camera):
    node, got, fake = camera(Parameter("compression", value="png"), Parameter("png_level", value=1))
    image = smooth_image()
    ros.spin_until(
        lambda: got[COMPRESSED] and got[COLOR], "a compressed and a raw frame", between=lambda: fake.push(image)
    )
    packed = got[COMPRESSED][-1]
    raw = next(m for m in got[COLOR] if m.header == packed.header)
    assert packed.format == "rgb8; png compressed bgr8" and packed.header.frame_id == "camera_color_optical_frame"
    assert np.array_equal(compressed_to_rgb(packed), imgmsg_to_numpy(raw)) and np.array_equal(
        compressed_to_rgb(packed), image
    )


def test_compression_parameters_are_described_ranged_and_live(ros, camera):
    node, got, fake = camera(Parameter("compression", value="jpeg"))
    desc = node.describe_parameter("jpeg_quality")
    assert desc.description and (desc.integer_range[0].from_value, desc.integer_range[0].to_value) == (1, 100)
    assert node.get_parameter("jpeg_quality").value == camera_msgs.JPEG_QUALITY
    level = node.describe_parameter("png_level").integer_range[0]
    assert (level.from_value, level.to_value) == (0, 9)
    assert "one of: none, jpeg, png" in node.describe_parameter("compression").additional_constraints
    results = node.set_parameters(
        [
            Parameter("jpeg_quality", value=0),
            Parameter("jpeg_quality", value=101),
            Parameter("compression", value="png"),
            Parameter("jpeg_quality", value=20),
        ]
    )
    assert [r.successful for r in results] == [False, False, False, True]  # compression decides the topics: read-only
    image = smooth_image()
    ros.spin_until(lambda: got[COMPRESSED], "a compressed frame", between=lambda: fake.push(image))
    fine = compress_rgb(image, "jpeg", jpeg_quality=camera_msgs.JPEG_QUALITY)[1]
    assert bytes(got[COMPRESSED][-1].data) == compress_rgb(image, "jpeg", jpeg_quality=20)[1] != fine
    with pytest.raises(InvalidParameterValueException, match="compression must be one of none, jpeg, png"):
        RealSenseNode(devices=Plug(fake), parameter_overrides=[Parameter("compression", value="webp")])


def test_the_recorder_records_compressed_camera_topics_and_import_bag_gives_the_frames(ros, tmp_path):
    """sim bridge (jpeg) -> recorder (image_transport compressed) -> bag -> import-bag."""
    doc = yaml.safe_load((REPO / "config" / "sim_record.yaml").read_text())
    doc["amplify_sim_bridge"]["ros__parameters"].update(
        image_size=64, max_steps=20, command_timeout=0.3, compression="jpeg"
    )
    doc["amplify_recorder"]["ros__parameters"].update(output_dir=str(tmp_path / "rec"), image_transport="compressed")
    (config := tmp_path / "sim_record.yaml").write_text(yaml.safe_dump(doc))
    ros.multithreaded()
    nodes = build_nodes(config)
    ros.add(*nodes)
    recorder = nodes[2]
    wanted = {**recorder._pending, **recorder._recorded}  # subscribed already if the bridge publishes
    assert "/camera/image_raw/compressed" in wanted and "/camera/image_raw" not in wanted
    results, frames = ros.listen(String, "sim/episode_result"), ros.listen(Image, "camera/image_raw")
    record_next_sim_episode(ros, recorder, results)
    bag = recorder.episodes.path
    topics = BagReader(bag).topics()
    assert (
        topics["/camera/image_raw/compressed"] == "sensor_msgs/msg/CompressedImage"
        and "/camera/image_raw" not in topics
    )

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
            ]
        )
        == 0
    )
    (path,) = (tmp_path / "ds").glob("*/episode_*.h5")
    ep = read_episode(path)
    assert ep.num_frames == 20 and ep.actions.shape == (19, 4)
    raw = {stamp_ns(m.header): imgmsg_to_numpy(m) for m in frames}
    quality = [psnr(frame, raw[stamp]) for frame, stamp in zip(ep.images["camera"], ep.extras["stamps_ns"])]
    assert min(quality) > 28, quality  # jpeg 90 of these 64 px renders: 31-32 dB; a channel swap or another scene: < 20


def test_the_real_robot_recorder_records_the_remapped_cameras_compressed_stream(ros, tmp_path):
    doc = yaml.safe_load((REPO / "config" / "record.yaml").read_text())
    doc["amplify_recorder"]["ros__parameters"]["image_transport"] = "compressed"
    (config := tmp_path / "record.yaml").write_text(yaml.safe_dump(doc))
    (node,) = build_nodes(config)
    ros.add(node)  # image_transport appends /compressed to the remapped name, as realsense2_camera publishes it
    assert node._pending == {
        "/camera/camera/color/image_raw/compressed": "sensor_msgs/msg/CompressedImage",
        "/camera/camera/color/camera_info": None,
        "/amplify/task": None,
    }
