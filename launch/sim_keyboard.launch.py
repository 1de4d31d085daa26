"""ros2 launch amplify_ros sim_keyboard.launch.py: the graph of config/sim_keyboard.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("sim_keyboard")
