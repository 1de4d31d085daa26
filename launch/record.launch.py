"""ros2 launch amplify_ros record.launch.py: the graph of config/record.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("record")
