"""policy_node: camera image + robot state + task sentence -> action chunk and next command.

Runs the forward model and the inverse model in one process (the lowest-latency option) and
publishes what forward_node and inverse_node publish together, on the same topics
(docs/interfaces.md). The acting itself (parameters, state and task, chunks and commands) is
``nodes.acting.Acting``, shared with inverse_node; ``forward_mode: async`` runs the forward model
on a thread of its own (``control.motion_worker``).
"""

from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Image

from amplify_ros.nodes.acting import Acting
from amplify_ros.nodes.bringup import run_node


class PolicyNode(Node):
    """Subscribes camera/image_raw, joint_states, amplify/task; publishes amplify/action_chunk,
    amplify/command, amplify/motion_tokens, amplify/predicted_tracks (+ /overlay)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_policy", **kwargs)
        self.acting = Acting(self, with_forward=True)
        self.health = self.acting.health  # as every model node has it (/diagnostics counts)
        self.create_subscription(Image, "camera/image_raw", self.acting.act, self.acting.image_qos)

    def destroy_node(self) -> None:
        self.acting.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args)


if __name__ == "__main__":
    main()
