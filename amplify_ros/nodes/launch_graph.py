"""The launch description of a config YAML's graph, for ``ros2 launch`` on a full ROS 2 install.

Every file in launch/ is one line over this: ``amplify.launch.py`` takes the config as an
argument, ``<config>.launch.py`` defaults it to its own name. The nodes, remappings, ``respawn``
and ``respawn_delay`` come from the YAML's amplify_bringup section (``read_graph``), so ``ros2
launch`` and ``amplify-bringup`` start the same graph, supervised the same way (launch_ros's
``respawn`` restarts a node ``respawn_delay`` seconds after it exits). ``launch`` and
``launch_ros`` are not on PyPI: they are imported only when a launch file runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from amplify_ros.nodes.bringup import TERMINAL_NODES, read_graph

__all__ = ["TERMINAL_NODES", "launch_config"]


def launch_config(default: str) -> Callable[[], object]:
    """``generate_launch_description`` for the graph of config ``default`` (overridable: config:=...)."""

    def generate_launch_description():
        from ament_index_python.packages import get_package_share_directory
        from launch.actions import DeclareLaunchArgument, OpaqueFunction
        from launch.substitutions import LaunchConfiguration
        from launch_ros.actions import Node

        from launch import LaunchDescription

        def nodes_of(context):
            config = LaunchConfiguration("config").perform(context)
            if not config.endswith(".yaml"):  # a name: one of the configs installed with the package
                config = os.path.join(get_package_share_directory("amplify_ros"), "config", f"{config}.yaml")
            terminal = LaunchConfiguration("terminal").perform(context)
            return [
                Node(
                    package="amplify_ros",
                    executable=n.module,
                    name=n.name,
                    parameters=[config],
                    remappings=list(n.remappings),
                    output="screen",
                    respawn=n.respawn,
                    respawn_delay=n.respawn_delay,
                    prefix=terminal if n.module in TERMINAL_NODES else None,
                )
                for n in read_graph(config)
            ]

        return LaunchDescription(
            [
                DeclareLaunchArgument(
                    "config",
                    default_value=default,
                    description="a shipped config's name (see share/amplify_ros/config) or the path of a "
                    "parameter YAML with an amplify_bringup section naming the nodes",
                ),
                DeclareLaunchArgument(
                    "terminal",
                    default_value="xterm -e",
                    description="command that opens a terminal for the nodes that read keys (keyboard_teleop_node)",
                ),
                OpaqueFunction(function=nodes_of),
            ]
        )

    return generate_launch_description
