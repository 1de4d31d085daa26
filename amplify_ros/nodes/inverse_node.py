"""inverse_node: motion tokens + the image and robot state they were computed from -> actions.

policy_node without its forward model (the same ``nodes.acting.Acting``): the tokens come from forward_node on
amplify/motion_tokens, stamped with the header of their image. Camera frames wait in a small
buffer keyed by stamp, each with the robot state of its arrival, until their tokens come;
tokens whose image has left the buffer (or never came) are dropped and counted, and an image
that has grown older than max_image_age meanwhile is refused like any stale frame. A BC
checkpoint needs no tokens: it acts on every frame, as policy_node does.
"""

from __future__ import annotations

from collections import OrderedDict

from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image

from amplify_ros.nodes.acting import Acting
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.stamps import stamp_ns
from amplify_ros.nodes.tensor_msgs import msg_to_codes


class InverseNode(Node):
    """Subscribes camera/image_raw, joint_states, amplify/task, amplify/motion_tokens; publishes
    amplify/action_chunk, amplify/command."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_inverse", **kwargs)
        self.acting = Acting(self, with_forward=False)
        self.health = self.acting.health  # as every model node has it (/diagnostics counts)
        self._waiting: OrderedDict[int, Image] = OrderedDict()  # stamp (ns) -> image, oldest first
        self.image_buffer = self.acting.params.declare(
            "image_buffer",
            30,
            "camera frames kept waiting for their motion tokens (the forward model's latency in frames, with margin)",
            range=(1, 1000),
            apply=self._resize,
        )
        self.create_subscription(Image, "camera/image_raw", self.on_image, self.acting.image_qos)
        self.create_subscription(Image, "amplify/motion_tokens", self.on_tokens, QoSProfile(depth=10))

    @property
    def _bc(self) -> bool:
        return self.acting.policy is not None and self.acting.policy.kind == "bc"

    def _resize(self, size: int) -> None:
        self.image_buffer = size
        self._trim()

    def _trim(self) -> None:
        while len(self._waiting) > self.image_buffer:
            self._waiting.popitem(last=False)

    def on_image(self, msg: Image) -> None:
        if self._bc:
            self.acting.act(msg)
            return
        self._waiting[stamp_ns(msg.header)] = msg
        self._trim()

    def on_tokens(self, msg: Image) -> None:
        if self._bc:
            return  # a BC policy has no use for them
        try:
            codes = msg_to_codes(msg)
        except ValueError as err:
            self.acting.health.drop("bad_tokens", str(err))
            self.get_logger().error(f"refusing motion tokens: {err}", throttle_duration_sec=2.0)
            return
        key = stamp_ns(msg.header)
        if key not in self._waiting:
            self.acting.gate.refuse(
                "tokens_without_image",
                f"no buffered image stamped {key * 1e-9:.3f} s for these motion "
                f"tokens (buffer: {len(self._waiting)} frames, image_buffer {self.image_buffer})",
            )
            return
        image = self._waiting.pop(key)
        while self._waiting and next(iter(self._waiting)) < key:  # older frames: their tokens will not come now
            self._waiting.popitem(last=False)
        self.acting.act(image, codes)

    def destroy_node(self) -> None:
        self.acting.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(InverseNode, args)


if __name__ == "__main__":
    main()
