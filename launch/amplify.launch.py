"""Any amplify_ros graph from a config YAML: the nodes its amplify_bringup section names.

    ros2 launch amplify_ros amplify.launch.py                      # config/sim_demo.yaml
    ros2 launch amplify_ros amplify.launch.py config:=tracking     # a config shipped in share/config
    ros2 launch amplify_ros amplify.launch.py config:=/path/to/your.yaml

Each shipped config also has a launch file of its name (real_arm.launch.py, ...).
"""

from amplify_ros.nodes.launch_graph import launch_config

generate_launch_description = launch_config("sim_demo")
