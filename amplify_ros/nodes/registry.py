"""Every ROS node of the package, in one table that setup.py's console scripts and
amplify-bringup both read: its module (``amplify_ros.nodes.<module>``, whose ``main()`` is also the
console script ``ros2 run amplify_ros <module>`` starts), its class, and its ROS node name (the
section of a config YAML that holds its parameters).

It imports nothing beyond the standard library, so that setup.py can load it by path without
the package's dependencies installed.
"""

from __future__ import annotations

from typing import NamedTuple


class NodeEntry(NamedTuple):
    module: str
    cls: str
    name: str
    terminal: bool = False  # reads keys: a terminal of its own (launch), the foreground (processes)


NODES: dict[str, NodeEntry] = {
    e.module: e
    for e in (
        NodeEntry("sim_bridge_node", "SimBridgeNode", "amplify_sim_bridge"),
        NodeEntry("policy_node", "PolicyNode", "amplify_policy"),
        NodeEntry("forward_node", "ForwardNode", "amplify_forward"),
        NodeEntry("inverse_node", "InverseNode", "amplify_inverse"),
        NodeEntry("tracker_node", "TrackerNode", "amplify_tracker"),
        NodeEntry("arm_output_node", "ArmOutputNode", "amplify_arm_output"),
        NodeEntry("realsense_node", "RealSenseNode", "amplify_realsense"),
        NodeEntry("teleop_node", "TeleopNode", "amplify_teleop"),
        NodeEntry("keyboard_teleop_node", "KeyboardTeleopNode", "amplify_keyboard", terminal=True),
        NodeEntry("recorder_node", "RecorderNode", "amplify_recorder"),
    )
}


def console_scripts() -> list[str]:
    """setup.py entry points: one script per node, named after its module."""
    return [f"{e.module} = amplify_ros.nodes.{e.module}:main" for e in NODES.values()]
