"""Shared test setup: headless MuJoCo, one ROS domain per test process, small fixtures."""

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only add contention
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))

from amplify_ros.sim.headless import configure_headless_gl  # noqa: E402

configure_headless_gl()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import rclpy  # noqa: E402 - before any test imports pyrealsense2 (see amplify_ros/camera/realsense.py)

sys.path.insert(0, str(Path(__file__).parent))  # tests share small fixtures by import

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def short_dataset(tmp_path_factory) -> Path:
    """Two short Meta-World episodes with ground-truth tracks (64 px, 7 frames); copy before changing."""
    from amplify_ros.train.data_cli import main

    root = tmp_path_factory.mktemp("short") / "ds"
    argv = ["generate", "--tasks", "button-press-topdown", "--episodes", "2", "--out", str(root), "--max-steps", "6", "--image-size", "64"]
    assert main(argv) == 0
    return root


@pytest.fixture
def ros():
    """An rclpy context for one test."""
    rclpy.init()
    yield
    rclpy.shutdown()
