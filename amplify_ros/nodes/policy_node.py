"""policy_node: camera image + robot state + task sentence -> action chunk and next command.

Runs the forward model and the inverse model in one process (the lowest-latency option) and
publishes what forward_node and inverse_node publish together, on the same topics
(docs/interfaces.md). inverse_node is this node with motion tokens taken from a topic.

``forward_mode: async`` runs the forward model on a thread of its own
(``amplify_ros.core.motion_worker``): each frame is acted on with the newest motion codes,
predicted from a frame up to ``max_codes_age`` older, so decoding them leaves the path from image
to action.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSProfile
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import String
from trajectory_msgs.msg import JointTrajectory

from amplify_ros.control.chunking import make_chunker
from amplify_ros.control.freshness import StampedHistory
from amplify_ros.core.motion_worker import MotionWorker, StampedCodes
from amplify_ros.core.policy import ChunkPrediction, Policy
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.model_io import (ExtraViews, FrameGate, MotionPublisher, declare_device, declare_inference,
                                        declare_image_qos, load_model)
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import latched_qos, state_qos
from amplify_ros.nodes.stamps import now_seconds, stamp_seconds
from amplify_ros.nodes.state_msgs import joint_reading
from amplify_ros.nodes.tensor_msgs import chunk_to_trajectory
from amplify_ros.nodes.bringup import run_node


CODES_WAIT = 2.0  # s: async mode waits this long for the first codes of an episode (a forward pass)


class PolicyNode(Node):
    """Subscribes camera/image_raw, joint_states, amplify/task; publishes amplify/action_chunk,
    amplify/command and, ``with_forward``, amplify/motion_tokens, amplify/predicted_tracks (+ /overlay)."""

    def __init__(self, node_name: str = "amplify_policy", with_forward: bool = True, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.health = Health()
        self.gate = FrameGate(self, self.health)
        self._with_forward = with_forward
        self.policy: Policy | None = None
        self.worker: MotionWorker | None = None  # forward_mode async
        self._published_codes: float | None = None  # stamp of the async codes last published
        self.sentence: str | None = None
        self._acted_at: float | None = None  # stamp of the last frame acted on
        self.states = StampedHistory()  # each image is paired with the state stamped nearest to it
        self.params = p = LiveParameters(self)  # subclasses declare theirs through it too
        self.device = declare_device(p)
        self.ensemble = p.declare("ensemble", "temporal", "how chunks become commands: 'temporal' predicts every frame "
                                  "and averages overlapping chunks; 'open-loop' executes execute_steps of each chunk",
                                  choices=("temporal", "open-loop"), apply=self._rebuild("ensemble"))
        self.ensemble_k = p.declare("ensemble_k", 0.01, "temporal ensembling weight exp(-k*i), i = 0 the oldest chunk",
                                    range=(0.0, 1.0), apply=self._rebuild("ensemble_k"))
        self.execute_steps = p.declare("execute_steps", 8, "open-loop: chunk steps executed before predicting again",
                                       range=(1, 256), apply=self._rebuild("execute_steps"))
        self.max_image_age = p.declare("max_image_age", 0.5, "images older than this (s, node clock) are not acted on",
                                       range=(0.001, 3600.0), apply=p.setter("max_image_age"))
        self.max_state_age = p.declare("max_state_age", 0.2, "robot state further than this (s) from the image is stale",
                                       range=(0.001, 3600.0), apply=p.setter("max_state_age"))
        self.state_names = p.declare("state_names", [], "joint_states entries forming the proprio vector, in the "
                                     "checkpoint's order (empty: all positions in message order)")
        self.action_names = p.declare("action_names", [], "names of the action dimensions (joint_names of the "
                                      "published trajectories; empty: a0, a1, ...)")
        self.action_period = p.declare("action_period", 0.0125, "time between the chunk's actions (s): the control "
                                       "period the policy was trained at (Meta-World: 0.0125)", range=(1e-4, 10.0),
                                       apply=p.setter("action_period"))
        if with_forward:
            self.forward_mode = p.declare("forward_mode", "sync", "'sync': motion codes predicted from each frame "
                                          "before acting on it; 'async': the forward model runs on its own thread and "
                                          "each frame is acted on at once with the newest codes (lower latency, codes "
                                          "up to max_codes_age older than the frame)", choices=("sync", "async"),
                                          apply=self._set_forward_mode)
            self.max_codes_age = p.declare("max_codes_age", 0.2, "async: act only with codes predicted from a frame at "
                                           "most this much older (s, header stamps)", range=(0.001, 10.0),
                                           apply=p.setter("max_codes_age"))
            self.publish_tracks = p.declare("publish_tracks", True, "decode and publish the predicted tracks and "
                                            "their overlay image after each command (AMPLIFY checkpoints only)",
                                            apply=p.setter("publish_tracks"))
        self.inference = declare_inference(p, lambda: self.policy, codes=with_forward)
        image_qos = declare_image_qos(p)
        self.views = ExtraViews(self, self.gate, p, image_qos)  # subscribed before the main camera
        self.checkpoint = p.declare("checkpoint", "", "policy run directory or checkpoint (amplify-train inverse|bc); "
                                    "changing it loads the new model or rejects the change", apply=self._load)
        with contextlib.suppress(ValueError):  # without a model the node runs and says why on /diagnostics
            self._load(self.checkpoint)

        sensing = MutuallyExclusiveCallbackGroup()  # under a multi-threaded executor: state and task stay fresh during inference
        # created before the image subscription: when both are ready, rclpy's executor takes them
        # in creation order, so an image finds the state sent with it already received
        self.create_subscription(JointState, "joint_states", self.on_state, state_qos(), callback_group=sensing)
        self.create_subscription(String, "amplify/task", self.on_task, latched_qos(), callback_group=sensing)
        self.create_subscription(Image, "camera/image_raw", self.on_image, image_qos)
        reliable = QoSProfile(depth=10)
        self.chunk_pub = self.create_publisher(JointTrajectory, "amplify/action_chunk", reliable)
        self.command_pub = self.create_publisher(JointTrajectory, "amplify/command", reliable)
        self.motion_out = MotionPublisher(self) if with_forward else None
        self.diagnostics = DiagnosticsReporter(self, self.health)

    # --- parameters -------------------------------------------------------------------------
    def _rebuild(self, name: str):
        def apply(value) -> None:
            setattr(self, name, value)
            self._new_chunker()
        return apply

    def _new_chunker(self) -> None:
        if self.policy is not None:
            self.chunker = make_chunker(self.ensemble, self.policy.chunk, self.ensemble_k,
                                        min(self.execute_steps, self.policy.chunk))

    def _set_forward_mode(self, mode: str) -> None:
        self.forward_mode = mode
        self._new_worker()

    def _new_worker(self) -> None:
        """The forward model's thread, in async mode with an AMPLIFY policy; else none."""
        if self.worker is not None:
            self.worker.close()
        motion = self.policy.motion if self.policy is not None else None
        self.worker = MotionWorker(motion.predict) if self._with_forward and self.forward_mode == "async" and motion else None

    def _load_policy(self, path: str) -> Policy:
        policy = Policy.load(path, self.device, with_forward=self._with_forward)
        self.inference.apply_to(policy)
        return policy

    def _load(self, path: str) -> None:
        """Load ``path`` or raise ValueError, keeping the model there was (a rejected change)."""
        self.policy = policy = load_model(self, self.health, path, self._load_policy, self.views.count)
        self.checkpoint = path
        self.names = list(self.action_names) or [f"a{i}" for i in range(policy.action_dim)]
        self._new_chunker()
        self._new_worker()
        codes = f"{policy.motion.code_decoding} code decoding, " if policy.motion is not None else ""
        self.get_logger().info(f"loaded {policy.kind} policy from {path}: {policy.image_size} px, "
                               f"{policy.action_dim}-D actions in chunks of {policy.chunk}; {codes}{policy.runtime}")

    # --- inputs -----------------------------------------------------------------------------
    def on_task(self, msg: String) -> None:
        """A task sentence starts a new episode: forget the previous chunks."""
        self.sentence = msg.data
        self._acted_at = None
        if self.policy is not None:
            self.chunker.reset()
        if self.worker is not None:
            self.worker.reset()
        self.get_logger().info(f"task: {msg.data!r}")

    def on_state(self, msg: JointState) -> None:
        try:
            vec, stamp = joint_reading(msg, self.state_names, now_seconds(self), self.max_state_age)
        except ValueError as err:
            self.health.drop("bad_state", str(err))
            self.get_logger().error(str(err), throttle_duration_sec=5.0)
            return
        self.states.add(vec, stamp)

    def on_image(self, msg: Image) -> None:
        self.act(msg)

    def observation(self, msg: Image) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(source RGB, model image, every view's model image (V, S, S, 3), proprio) for ``msg``,
        the other cameras' frames and the robot state stamped nearest to it, or None after saying
        why not."""
        if not self.gate.ready(self.policy, self.sentence):
            return None
        state = self.states.nearest(stamp_seconds(msg.header))
        vec, stamp = state if state is not None else (None, None)
        frame = self.gate.model_input(msg, self.policy.image_size, self.max_image_age, vec, stamp, self.max_state_age)
        if frame is None:
            return None
        views = self.views.stack(msg, frame[1], self.policy.image_size)
        return None if views is None else (*frame, views, vec)

    # --- acting -----------------------------------------------------------------------------
    def act(self, msg: Image, codes: np.ndarray | None = None) -> None:
        """Act on ``msg``; ``codes``: motion tokens from forward_node instead of this node's own."""
        start = time.perf_counter()
        obs = self.observation(msg)
        if obs is None:
            return
        rgb, _, views, proprio = obs
        stamp = stamp_seconds(msg.header)
        if self._acted_at is not None and stamp - self._acted_at > self.max_image_age:
            self.chunker.reset()  # what it holds was predicted from frames before a camera outage
        self._acted_at = stamp
        background = None
        if self.worker is not None and codes is None:  # async: every frame goes to the forward model's thread
            self.worker.submit(views, self.sentence, stamp_seconds(msg.header), (msg.header, rgb, views))
            if self.chunker.needs_chunk:
                if (background := self.background_codes(msg)) is None:
                    return
                codes = background.codes
        pred = None
        if self.chunker.needs_chunk:
            try:
                pred = self.policy.predict(views, proprio, self.sentence, codes)
            except ValueError as err:
                self.gate.refuse("bad_input", str(err))
                return
            if not np.all(np.isfinite(pred.actions)):
                self.chunker.reset()
                self.gate.refuse("nonfinite_action", "the model produced a non-finite action chunk; nothing published")
                return
            self.chunker.push(pred.actions)
            self.chunk_pub.publish(chunk_to_trajectory(pred.actions, self.names, self.action_period, msg.header))
        action = self.chunker.next_action()
        self.command_pub.publish(chunk_to_trajectory(action[None], self.names, self.action_period, msg.header))
        stages = {k: v for k, v in pred.timings_ms.items() if k != "total_ms"} if pred is not None else None
        if stages is not None and background is not None:
            stages.update(forward_ms=background.forward_ms, codes_age_ms=(stamp_seconds(msg.header) - background.stamp) * 1e3)
        self.health.ok((time.perf_counter() - start) * 1e3, stages)
        if self.motion_out is not None:  # after the command: costs it no latency
            self.publish_motion(msg, rgb, views, pred, background)

    def publish_motion(self, msg: Image, rgb: np.ndarray, views: np.ndarray, pred: ChunkPrediction | None,
                       background: StampedCodes | None) -> None:
        """This node's own codes, once each, with the header of the frame they came from."""
        decode = self.policy.decode_tracks if self.publish_tracks else None
        if background is not None and background.stamp != self._published_codes:
            self._published_codes = background.stamp
            header, rgb_then, views_then = background.source
            self.motion_out.publish(header, background.codes, rgb_then, views_then, decode)
        elif background is None and pred is not None and pred.codes is not None:
            self.motion_out.publish(msg.header, pred.codes, rgb, views, decode)

    def background_codes(self, msg: Image) -> StampedCodes | None:
        """Async mode: the newest codes fresh enough for ``msg``, waiting for them at the start of
        an episode; None after saying why."""
        codes = self.worker.codes_for(stamp_seconds(msg.header), self.sentence, self.max_codes_age, CODES_WAIT)
        if codes is None:
            self.gate.refuse("no_codes", self.worker.error or f"no motion codes from within max_codes_age "
                             f"({self.max_codes_age} s) of the frame after waiting {CODES_WAIT} s")
        return codes

    def destroy_node(self) -> None:
        if self.worker is not None:
            self.worker.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(PolicyNode, args)


if __name__ == "__main__":
    main()
