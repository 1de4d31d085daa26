"""Shared test setup: headless MuJoCo, one ROS domain per test process, small fixtures."""

import os

os.environ.setdefault("MUJOCO_GL", "osmesa")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # tiny models: threads only add contention
os.environ.setdefault("ROS_DOMAIN_ID", str(100 + os.getpid() % 100))

from amplify_ros.sim.headless import configure_headless_gl  # noqa: E402

configure_headless_gl()

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # tests share small fixtures by import
