"""ros2 launch amplify_ros gazebo_arm.launch.py: the graph of config/gazebo_arm.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("gazebo_arm")
