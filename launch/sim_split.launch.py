"""ros2 launch amplify_ros sim_split.launch.py: the graph of config/sim_split.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("sim_split")
