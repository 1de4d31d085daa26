"""ament_python package: `colcon build` on a ROS 2 machine, `pip install .` anywhere else."""

import importlib.util
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup

package_name = "amplify_ros"


def node_scripts() -> list[str]:
    """A console script per node, from amplify_ros/nodes/registry.py loaded by path (importing the
    package would need its dependencies at build time)."""
    spec = importlib.util.spec_from_file_location("registry", "amplify_ros/nodes/registry.py")
    registry = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(registry)
    return registry.console_scripts()


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
        *[
            (f"share/{package_name}/{d}", glob(f"{d}/*.*"))
            for d in sorted({str(Path(f).parent) for f in glob("models/**/*.*", recursive=True)})
        ],
    ],
    python_requires=">=3.10",
    zip_safe=True,
    maintainer="amplify_ros developers",
    maintainer_email="amplify-ros@example.org",
    description=(
        "AMPLIFY (actionless motion priors from video) as a ROS 2 package: "
        "tracking, motion tokens, forward and inverse dynamics, sim bridge."
    ),
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
            *node_scripts(),
        ],
    },
)
