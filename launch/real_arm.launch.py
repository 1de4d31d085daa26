"""ros2 launch amplify_ros real_arm.launch.py: the graph of config/real_arm.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("real_arm")
