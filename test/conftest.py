"""Shared test setup: headless MuJoCo, a ROS graph of its own per node test (harness.py), small fixtures."""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only add contention
# exported ONNX graphs: one cache per test session, not the user's (the nodes a test starts inherit it)
if "AMPLIFY_ROS_ONNX_CACHE" not in os.environ:
    os.environ["AMPLIFY_ROS_ONNX_CACHE"] = tempfile.mkdtemp(prefix="amplify_ros_onnx_")
    atexit.register(shutil.rmtree, os.environ["AMPLIFY_ROS_ONNX_CACHE"], True)

from amplify_ros.sim.headless import configure_headless_gl  # noqa: E402

configure_headless_gl()

import sys  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # tests share small fixtures by import

# rclpy (harness imports it) before any test imports pyrealsense2: see amplify_ros/camera/realsense.py
from harness import Ros, claimed_domain  # noqa: E402


@pytest.fixture(scope="session")
def short_dataset(tmp_path_factory) -> Path:
    """Two short Meta-World episodes with ground-truth tracks (64 px, 7 frames); copy before changing."""
    from amplify_ros.train.data_cli import main

    root = tmp_path_factory.mktemp("short") / "ds"
    argv = [
        "generate",
        "--tasks",
        "button-press-topdown",
        "--episodes",
        "2",
        "--out",
        str(root),
        "--max-steps",
        "6",
        "--image-size",
        "64",
    ]
    assert main(argv) == 0
    return root


@pytest.fixture
def ros_domain(monkeypatch) -> Iterator[int]:
    """A ROS_DOMAIN_ID of this test's own, also in the environment of the processes it starts."""
    with claimed_domain() as domain:
        monkeypatch.setenv("ROS_DOMAIN_ID", str(domain))
        yield domain


@pytest.fixture
def ros(ros_domain) -> Iterator[Ros]:
    """This test's ROS graph (harness.Ros), closed after it."""
    graph = Ros(ros_domain)
    try:
        yield graph
    finally:
        graph.close()
