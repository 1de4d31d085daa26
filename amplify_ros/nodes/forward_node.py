"""forward_node: camera image + task sentence -> motion tokens and the tracks they stand for.

The forward half of AMPLIFY on its own, so it can run on another machine (a GPU) or at
another rate than the inverse model; inverse_node pairs its tokens with the image they were
computed from by header stamp. Layouts: docs/interfaces.md.
"""

from __future__ import annotations

import contextlib
import time

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String

from amplify_ros.core.policy import MotionPrior
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.model_io import (
    ExtraViews,
    FrameGate,
    MotionPublisher,
    declare_device,
    declare_image_qos,
    declare_inference,
    load_model,
)
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import latched_qos


class ForwardNode(Node):
    """Subscribes camera/image_raw, amplify/task; publishes amplify/motion_tokens,
    amplify/predicted_tracks (+ /overlay)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_forward", **kwargs)
        self.health = Health()
        self.gate = FrameGate(self, self.health)
        self.prior: MotionPrior | None = None
        self.sentence: str | None = None
        p = LiveParameters(self)
        self.device = declare_device(p)
        self.max_image_age = p.declare(
            "max_image_age",
            0.5,
            "images older than this (s, node clock) are not predicted from",
            range=(0.001, 3600.0),
            apply=p.setter("max_image_age"),
        )
        self.publish_tracks = p.declare(
            "publish_tracks",
            True,
            "decode and publish the predicted tracks and their "
            "overlay image after the tokens (needs the checkpoint's tokenizer)",
            apply=p.setter("publish_tracks"),
        )
        self.inference = declare_inference(p, lambda: self.prior, codes=True)
        image_qos = declare_image_qos(p)
        self.views = ExtraViews(self, self.gate, p, image_qos)  # subscribed before the main camera
        self.checkpoint = p.declare(
            "checkpoint",
            "",
            "forward run directory or checkpoint (amplify-train forward), or "
            "a policy checkpoint (its forward/ is used); changing it loads the new model or "
            "rejects the change",
            apply=self._load,
        )
        with contextlib.suppress(ValueError):  # without a model the node runs and says why on /diagnostics
            self._load(self.checkpoint)

        self.create_subscription(Image, "camera/image_raw", self.on_image, image_qos)
        self.create_subscription(
            String, "amplify/task", self.on_task, latched_qos(), callback_group=MutuallyExclusiveCallbackGroup()
        )  # a new task lands mid-inference
        self.motion_out = MotionPublisher(self)
        self.diagnostics = DiagnosticsReporter(self, self.health)

    def _load_prior(self, path: str) -> MotionPrior:
        prior = MotionPrior.load(path, self.device)
        self.inference.apply_to(prior)
        return prior

    def _load(self, path: str) -> None:
        """Load ``path`` or raise ValueError, keeping the model there was (a rejected change)."""
        self.prior = prior = load_model(self, self.health, path, self._load_prior, self.views.count)
        self.checkpoint = path
        tracks = "with" if prior.tokenizer is not None else "without (no predicted tracks)"
        self.get_logger().info(
            f"loaded forward model from {path}: {prior.image_size} px, {tracks} its tokenizer; "
            f"{prior.code_decoding} code decoding in {prior.runtime}"
        )

    def on_task(self, msg: String) -> None:
        self.sentence = msg.data
        self.get_logger().info(f"task: {msg.data!r}")

    def on_image(self, msg: Image) -> None:
        start = time.perf_counter()
        if not self.gate.ready(self.prior, self.sentence):
            return
        frame = self.gate.model_input(msg, self.prior.image_size, self.max_image_age)
        if frame is None:
            return
        rgb, image = frame
        views = self.views.stack(msg, image, self.prior.image_size)
        if views is None:
            return
        codes = self.prior.predict(views, self.sentence)
        self.motion_out.publish(
            msg.header, codes, rgb, views, self.prior.decode_tracks if self.publish_tracks else None
        )
        self.health.ok((time.perf_counter() - start) * 1e3)


def main(args: list[str] | None = None) -> None:
    run_node(ForwardNode, args)


if __name__ == "__main__":
    main()
