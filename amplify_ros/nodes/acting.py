"""What policy_node and inverse_node share: a policy acting on camera frames through ROS.

``Acting`` declares the acting parameters, subscribes the robot state and the task, loads the
checkpoint, and turns each frame it is handed into an action chunk and a command on
amplify/action_chunk and amplify/command, through a ``control.policy_runner.PolicyRunner``
(chunk scheduling, async forward model, refusals). The nodes own it and decide which frames it
sees: policy_node every camera frame, inverse_node each frame once its motion tokens came.
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

from amplify_ros.control.freshness import StampedHistory
from amplify_ros.control.motion_worker import StampedCodes
from amplify_ros.control.policy_runner import PolicyRunner, RunnerSettings
from amplify_ros.core.policy import ChunkPrediction, Policy
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
from amplify_ros.nodes.qos import latched_qos, state_qos
from amplify_ros.nodes.stamps import now_seconds, stamp_seconds
from amplify_ros.nodes.state_msgs import joint_reading
from amplify_ros.nodes.tensor_msgs import chunk_to_trajectory


class Acting:
    """Subscribes joint_states and amplify/task; publishes amplify/action_chunk, amplify/command
    and, ``with_forward``, amplify/motion_tokens, amplify/predicted_tracks (+ /overlay). Create it
    before the node's camera subscription: it subscribes the extra cameras and the state first."""

    def __init__(self, node: Node, with_forward: bool) -> None:
        self.node = node
        self.health = Health()
        self.gate = FrameGate(node, self.health)
        self.with_forward = with_forward
        self.policy: Policy | None = None
        self.runner: PolicyRunner | None = None
        self._published_codes: float | None = None  # stamp of the async codes last published
        self.sentence: str | None = None
        self.states = StampedHistory()  # each image is paired with the state stamped nearest to it
        self.params = p = LiveParameters(node)  # the nodes declare theirs through it too
        self.device = declare_device(p)
        self.ensemble = p.declare(
            "ensemble",
            RunnerSettings.ensemble,
            "how chunks become commands: 'temporal' predicts every frame "
            "and averages overlapping chunks; 'open-loop' executes execute_steps of each chunk",
            choices=("temporal", "open-loop"),
            apply=self._rebuild("ensemble"),
        )
        self.ensemble_k = p.declare(
            "ensemble_k",
            RunnerSettings.ensemble_k,
            "temporal ensembling weight exp(-k*i), i = 0 the oldest chunk",
            range=(0.0, 1.0),
            apply=self._rebuild("ensemble_k"),
        )
        self.execute_steps = p.declare(
            "execute_steps",
            8,
            "open-loop: chunk steps executed before predicting again",
            range=(1, 256),
            apply=self._rebuild("execute_steps"),
        )
        self.max_image_age = p.declare(
            "max_image_age",
            0.5,
            "images older than this (s, node clock) are not acted on",
            range=(0.001, 3600.0),
            apply=self._retune("max_image_age"),
        )
        self.max_state_age = p.declare(
            "max_state_age",
            0.2,
            "robot state further than this (s) from the image is stale",
            range=(0.001, 3600.0),
            apply=p.setter("max_state_age", self),
        )
        self.state_names = p.declare(
            "state_names",
            [],
            "joint_states entries forming the proprio vector, in the "
            "checkpoint's order (empty: all positions in message order)",
        )
        self.action_names = p.declare(
            "action_names",
            [],
            "names of the action dimensions (joint_names of the published trajectories; empty: a0, a1, ...)",
        )
        self.action_period = p.declare(
            "action_period",
            0.0125,
            "time between the chunk's actions (s): the control period the policy was trained at (Meta-World: 0.0125)",
            range=(1e-4, 10.0),
            apply=p.setter("action_period", self),
        )
        self.forward_mode, self.max_codes_age = RunnerSettings.forward_mode, RunnerSettings.max_codes_age
        self.publish_tracks = False
        if with_forward:
            self.forward_mode = p.declare(
                "forward_mode",
                RunnerSettings.forward_mode,
                "'sync': motion codes predicted from each frame "
                "before acting on it; 'async': the forward model runs on its own thread and "
                "each frame is acted on at once with the newest codes (lower latency, codes "
                "up to max_codes_age older than the frame)",
                choices=("sync", "async"),
                apply=self._rebuild("forward_mode"),
            )
            self.max_codes_age = p.declare(
                "max_codes_age",
                RunnerSettings.max_codes_age,
                "async: act only with codes predicted from a frame at most this much older (s, header stamps)",
                range=(0.001, 10.0),
                apply=self._retune("max_codes_age"),
            )
            self.publish_tracks = p.declare(
                "publish_tracks",
                True,
                "decode and publish the predicted tracks and "
                "their overlay image after each command (AMPLIFY checkpoints only)",
                apply=p.setter("publish_tracks", self),
            )
        self.inference = declare_inference(p, lambda: self.policy, codes=with_forward)
        self.image_qos = declare_image_qos(p)
        self.views = ExtraViews(node, self.gate, p, self.image_qos)  # subscribed before the main camera
        self.checkpoint = p.declare(
            "checkpoint",
            "",
            "policy run directory or checkpoint (amplify-train inverse|bc); "
            "changing it loads the new model or rejects the change",
            apply=self._load,
        )
        with contextlib.suppress(ValueError):  # without a model the node runs and says why on /diagnostics
            self._load(self.checkpoint)

        sensing = (
            MutuallyExclusiveCallbackGroup()
        )  # under a multi-threaded executor: state and task stay fresh during inference
        # created before the camera subscription: when both are ready, rclpy's executor takes them
        # in creation order, so an image finds the state sent with it already received
        node.create_subscription(JointState, "joint_states", self.on_state, state_qos(), callback_group=sensing)
        node.create_subscription(String, "amplify/task", self.on_task, latched_qos(), callback_group=sensing)
        reliable = QoSProfile(depth=10)
        self.chunk_pub = node.create_publisher(JointTrajectory, "amplify/action_chunk", reliable)
        self.command_pub = node.create_publisher(JointTrajectory, "amplify/command", reliable)
        self.motion_out = MotionPublisher(node) if with_forward else None
        self.diagnostics = DiagnosticsReporter(node, self.health)

    # --- parameters and model ---------------------------------------------------------------
    def _rebuild(self, name: str):
        def apply(value) -> None:
            setattr(self, name, value)
            self._new_runner()

        return apply

    def _retune(self, name: str):
        """For settings the runner reads each frame: no new runner, the chunks it holds stay."""

        def apply(value) -> None:
            setattr(self, name, value)
            if self.runner is not None:
                self.runner.settings = self._settings()

        return apply

    def _settings(self) -> RunnerSettings:
        return RunnerSettings(
            self.ensemble,
            self.ensemble_k,
            self.execute_steps,
            self.forward_mode,
            self.max_codes_age,
            max_gap=self.max_image_age,
        )  # frames resuming after an outage drop older chunks

    def _new_runner(self) -> None:
        if self.runner is not None:
            self.runner.close()
        self.runner = None if self.policy is None else PolicyRunner(self.policy, self._settings())

    def _load_policy(self, path: str) -> Policy:
        policy = Policy.load(path, self.device, with_forward=self.with_forward)
        self.inference.apply_to(policy)
        return policy

    def _load(self, path: str) -> None:
        """Load ``path`` or raise ValueError, keeping the model there was (a rejected change)."""
        self.policy = policy = load_model(self.node, self.health, path, self._load_policy, self.views.count)
        self.checkpoint = path
        self.names = list(self.action_names) or [f"a{i}" for i in range(policy.action_dim)]
        self._new_runner()
        codes = f"{policy.motion.code_decoding} code decoding, " if policy.motion is not None else ""
        self.node.get_logger().info(
            f"loaded {policy.kind} policy from {path}: {policy.image_size} px, "
            f"{policy.action_dim}-D actions in chunks of {policy.chunk}; {codes}{policy.runtime}"
        )

    # --- inputs -----------------------------------------------------------------------------
    def on_task(self, msg: String) -> None:
        """A task sentence starts a new episode: forget the previous chunks."""
        self.sentence = msg.data
        if self.runner is not None:
            self.runner.reset()
        self.node.get_logger().info(f"task: {msg.data!r}")

    def on_state(self, msg: JointState) -> None:
        try:
            vec, stamp = joint_reading(msg, self.state_names, now_seconds(self.node), self.max_state_age)
        except ValueError as err:
            self.health.drop("bad_state", str(err))
            self.node.get_logger().error(str(err), throttle_duration_sec=5.0)
            return
        self.states.add(vec, stamp)

    def observation(self, msg: Image) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """(source RGB, every view's model image (V, S, S, 3), proprio) for ``msg``, the other
        cameras' frames and the robot state stamped nearest to it, or None after saying why not."""
        if not self.gate.ready(self.policy, self.sentence):
            return None
        state = self.states.nearest(stamp_seconds(msg.header))
        vec, stamp = state if state is not None else (None, None)
        frame = self.gate.model_input(msg, self.policy.image_size, self.max_image_age, vec, stamp, self.max_state_age)
        if frame is None:
            return None
        views = self.views.stack(msg, frame[1], self.policy.image_size)
        return None if views is None else (frame[0], views, vec)

    # --- acting -----------------------------------------------------------------------------
    def act(self, msg: Image, codes: np.ndarray | None = None) -> None:
        """Act on ``msg``; ``codes``: motion tokens from forward_node instead of the policy's own."""
        start = time.perf_counter()
        obs = self.observation(msg)
        if obs is None:
            return
        rgb, views, proprio = obs
        out = self.runner.step(
            views, proprio, self.sentence, stamp_seconds(msg.header), codes, (msg.header, rgb, views)
        )
        if out.refusal is not None:
            self.gate.refuse(*out.refusal)
            return
        if out.prediction is not None:
            self.chunk_pub.publish(
                chunk_to_trajectory(out.prediction.actions, self.names, self.action_period, msg.header)
            )
        self.command_pub.publish(chunk_to_trajectory(out.action[None], self.names, self.action_period, msg.header))
        self.health.ok((time.perf_counter() - start) * 1e3, out.stages_ms if out.prediction is not None else None)
        if self.motion_out is not None:  # after the command: costs it no latency
            self.publish_motion(msg, rgb, views, out.prediction, out.background)

    def publish_motion(
        self,
        msg: Image,
        rgb: np.ndarray,
        views: np.ndarray,
        pred: ChunkPrediction | None,
        background: StampedCodes | None,
    ) -> None:
        """This node's own codes, once each, with the header of the frame they came from."""
        decode = self.policy.decode_tracks if self.publish_tracks else None
        if background is not None and background.stamp != self._published_codes:
            self._published_codes = background.stamp
            header, rgb_then, views_then = background.source
            self.motion_out.publish(header, background.codes, rgb_then, views_then, decode)
        elif background is None and pred is not None and pred.codes is not None:
            self.motion_out.publish(msg.header, pred.codes, rgb, views, decode)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
