"""ament_python package: `colcon build` on a ROS 2 machine, `pip install .` anywhere else."""

from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "amplify_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test", "test.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", glob("launch/*.launch.py")),
        (f"share/{package_name}/config", glob("config/*.yaml")),
        (f"share/{package_name}/config/tasks", glob("config/tasks/*.txt")),
        *[(f"share/{package_name}/{d}", glob(f"{d}/*.*")) for d in sorted({str(Path(f).parent) for f in glob("models/**/*.*", recursive=True)})],
    ],
    python_requires=">=3.10",
    zip_safe=True,
    maintainer="amplify_ros developers",
    maintainer_email="amplify-ros@example.org",
    description="AMPLIFY (actionless motion priors from video) as a ROS 2 package: tracking, motion tokens, forward and inverse dynamics, sim bridge.",
    license="MIT",
    tests_require=["pytest"],
    entry_points={
        "console_scripts": [
            "amplify-data = amplify_ros.train.data_cli:main",
            "amplify-train = amplify_ros.train.train_cli:main",
            "amplify-eval = amplify_ros.train.eval_cli:main",
            "amplify-export = amplify_ros.train.export_cli:main",
            "amplify-bringup = amplify_ros.nodes.bringup:main",
            "amplify-demo = amplify_ros.nodes.demo:main",
            "sim_bridge_node = amplify_ros.nodes.sim_bridge_node:main",
            "policy_node = amplify_ros.nodes.policy_node:main",
            "arm_output_node = amplify_ros.nodes.arm_output_node:main",
            "forward_node = amplify_ros.nodes.forward_node:main",
            "inverse_node = amplify_ros.nodes.inverse_node:main",
            "tracker_node = amplify_ros.nodes.tracker_node:main",
            "realsense_node = amplify_ros.nodes.realsense_node:main",
            "teleop_node = amplify_ros.nodes.teleop_node:main",
            "keyboard_teleop_node = amplify_ros.nodes.keyboard_teleop_node:main",
            "recorder_node = amplify_ros.nodes.recorder_node:main",
        ],
    },
)
