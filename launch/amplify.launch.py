"""Any amplify_ros graph from a config YAML: the nodes its amplify_bringup section names.

    ros2 launch amplify_ros amplify.launch.py                      # config/sim_demo.yaml
    ros2 launch amplify_ros amplify.launch.py config:=tracking     # a config shipped in share/config
    ros2 launch amplify_ros amplify.launch.py config:=/path/to/your.yaml

The node list and remappings are read from the YAML (amplify_ros.nodes.bringup.read_graph), so
this file and `amplify-bringup <yaml>` start the same graph.
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from amplify_ros.nodes.bringup import read_graph


def nodes_of(context):
    config = LaunchConfiguration("config").perform(context)
    if not config.endswith(".yaml"):  # a name: one of the configs installed with the package
        config = os.path.join(get_package_share_directory("amplify_ros"), "config", f"{config}.yaml")
    return [Node(package="amplify_ros", executable=n.module, name=n.name, parameters=[config],
                 remappings=list(n.remappings), output="screen") for n in read_graph(config)]


def generate_launch_description():
    return LaunchDescription([
        DeclareLaunchArgument("config", default_value="sim_demo",
                              description="a shipped config's name (sim_demo, sim_record, record, tracking) or the path of a "
                                          "parameter YAML with an amplify_bringup section naming the nodes"),
        OpaqueFunction(function=nodes_of),
    ])
