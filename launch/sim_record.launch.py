"""ros2 launch amplify_ros sim_record.launch.py: the graph of config/sim_record.yaml (see amplify.launch.py)."""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("sim_record")
