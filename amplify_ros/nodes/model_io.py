"""What the nodes around a model share, so they refuse, load and publish alike.

- ``declare_device`` / ``declare_image_qos``: the parameters every model node has;
- ``load_model``: a checkpoint loaded, or the reason it was not on /diagnostics and in the log
  (the node keeps running, without a model or with the one it had);
- ``FrameGate``: the checks a camera frame passes before inference (model and task present,
  image fresh, robot state close to it, a colour encoding), each refusal counted by reason and
  logged with throttling, since it runs per frame;
- ``ExtraViews``: the cameras a multi-view model sees besides camera/image_raw, each frame
  paired with the main camera's by stamp;
- ``TrackPublisher`` / ``MotionPublisher``: tracks and motion tokens in the layouts of
  docs/interfaces.md, with an overlay image drawn only while someone subscribes to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np
from rclpy.node import Node
from rclpy.qos import QoSProfile, qos_profile_sensor_data
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from amplify_ros.control.freshness import StampedHistory, refuse_reason
from amplify_ros.core.overlay import draw_tracks
from amplify_ros.core.tracks import square, square_to_source_xy
from amplify_ros.nodes.conversions import ImageConversionError, numpy_to_imgmsg, to_rgb
from amplify_ros.nodes.diagnostics import Health
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.paths import find
from amplify_ros.nodes.qos import image_qos
from amplify_ros.nodes.stamps import now_seconds, stamp_problem, stamp_seconds
from amplify_ros.nodes.tensor_msgs import codes_to_msg, tracks_to_msg


class ViewModel(Protocol):  # Policy, MotionPrior
    views: int


M = TypeVar("M", bound=ViewModel)


def declare_image_qos(params: LiveParameters, default: str = "sensor_data") -> QoSProfile:
    """The camera subscription's QoS, as a read-only parameter."""
    return image_qos(
        params.declare(
            "image_qos",
            default,
            "camera QoS: 'sensor_data' (best effort, depth 1) or 'reliable' (depth 1; for lockstep simulation)",
            choices=("sensor_data", "reliable"),
        )
    )


def declare_device(params: LiveParameters) -> str:
    """The torch device of a model node, and its thread count applied (read-only parameters)."""
    import torch  # here, not at the top: tracker_node uses this module without any model

    device = params.declare("device", "cpu", "torch device for inference", choices=("cpu", "cuda"))
    torch.set_num_threads(
        params.declare("threads", 1, "torch threads for inference (1 is fastest on a busy CPU)", range=(1, 64))
    )
    return device


class Configurable(Protocol):  # Policy, MotionPrior
    def configure(self, runtime: str | None = None, code_decoding: str | None = None) -> None: ...


@dataclass
class Inference:
    """How a node runs its model: the ``runtime`` and ``code_decoding`` parameters."""

    runtime: str = "onnxruntime"
    code_decoding: str = "auto"

    def apply_to(self, model: Configurable) -> None:
        """Configure a newly loaded model; ValueError: it cannot run this way (refused like any unfit checkpoint)."""
        model.configure(self.runtime, self.code_decoding)


def declare_inference(params: LiveParameters, model: Callable[[], Configurable | None], codes: bool) -> Inference:
    """The ``runtime`` parameter, and with ``codes`` (a node with a forward model) ``code_decoding``.
    A change reconfigures the loaded ``model()`` or, when it cannot run that way, is rejected."""
    settings = Inference()

    def setter(name: str) -> Callable[[str], None]:
        def apply(value: str) -> None:
            if (loaded := model()) is not None:
                loaded.configure(**{name: value})  # ValueError rejects the change
            setattr(settings, name, value)

        return apply

    settings.runtime = params.declare(
        "runtime",
        settings.runtime,
        "'onnxruntime': the models as ONNX Runtime graphs (the same actions, ~2x faster on a CPU; a checkpoint's "
        "first load exports them, ~10 s, then they are cached); 'torch': eager torch (needed for device cuda)",
        choices=("onnxruntime", "torch"),
        apply=setter("runtime"),
    )
    if codes:
        settings.code_decoding = params.declare(
            "code_decoding",
            settings.code_decoding,
            "'autoregressive': one code after another, each conditioned on "
            "the ones before (greedy, the paper's); 'parallel': all codes in one pass (needs a forward model trained "
            "with a parallel head, e.g. --set parallel_depth=2); 'auto': parallel where the model has that head",
            choices=("auto", "autoregressive", "parallel"),
            apply=setter("code_decoding"),
        )
    return settings


def load_model(node: Node, health: Health, path: str, load: Callable[[str], M], views: int) -> M:
    """``load(path)``, a model for ``views`` cameras (a relative path may name a model shipped in
    the package, see nodes/paths.py). Raises ValueError naming what is wrong (at run
    time, a rejected parameter change) after putting it on /diagnostics and in the log."""
    if not path:
        reason = "no checkpoint: set the 'checkpoint' parameter"
    else:
        try:
            model = load(str(find(path)))
            if model.views != views:
                raise ValueError(
                    f"{path} takes {model.views} camera view(s); this node has {views} (camera/image_raw "
                    f"and the extra_cameras parameter, in the order the model was trained on)"
                )
            health.status, health.error = "running", ""
            return model
        except (OSError, ValueError, KeyError, RuntimeError) as err:  # CheckpointError is a RuntimeError
            reason = f"cannot load checkpoint {path}: {err}"
    health.error = reason
    node.get_logger().error(reason)
    raise ValueError(reason)


class FrameGate:
    """Says why a frame is not used: counted by reason in ``health`` (/diagnostics) and logged,
    throttled, since it happens per frame."""

    def __init__(self, node: Node, health: Health) -> None:
        self._node = node
        self._health = health

    def refuse(self, reason: str, detail: str) -> None:
        self._health.drop(reason, detail)
        self._node.get_logger().warning(f"not acting on frame: {detail}", throttle_duration_sec=2.0)

    def ready(self, model: object | None, sentence: str | None) -> bool:
        """False (and counted) while there is no model or no task sentence yet."""
        if model is None:
            self._health.drop("no_model")
            return False
        if sentence is None:
            self.refuse("no_task", "no task sentence yet on amplify/task")
            return False
        return True

    def colour(self, msg: Image) -> np.ndarray | None:
        """(H, W, 3) uint8 RGB, or None after an error naming the encoding (a wiring mistake,
        e.g. a depth stream on the colour topic: it will not fix itself)."""
        try:
            return to_rgb(msg)
        except ImageConversionError as err:
            self._health.drop("bad_image", str(err))
            self._node.get_logger().error(f"refusing image: {err}", throttle_duration_sec=2.0)
            return None

    def stamp(self, msg: Image, max_ahead: float) -> bool:
        """False (and counted) for a corrupted stamp or one more than ``max_ahead`` s ahead of
        the node's clock (``stamps.stamp_problem``)."""
        kind, reason = stamp_problem(msg.header, now_seconds(self._node), max_ahead)
        if kind:
            self.refuse(kind, reason)
        return not kind

    def model_input(
        self,
        msg: Image,
        size: int,
        max_age: float,
        state: np.ndarray | None = None,
        state_stamp: float | None = None,
        max_state_age: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """(source RGB, its centre square at ``size`` px) of a fresh colour frame, or None after
        saying why not. With ``max_state_age`` the robot state must exist and be that close."""
        if not self.stamp(msg, max_age):
            return None
        kind, reason = refuse_reason(
            now_seconds(self._node), stamp_seconds(msg.header), max_age, state, state_stamp, max_state_age
        )
        if kind:
            self.refuse(kind, reason)
            return None
        rgb = self.colour(msg)
        return None if rgb is None else (rgb, square(rgb, size))


class ExtraViews:
    """Cameras after the first, for multi-view models: ``extra_cameras`` names them, each
    subscribed at ``<name>/image_raw`` (remap to the driver's topic) and paired with the main
    camera's frame by nearest header stamp. Subscribe before the main camera: when frames of
    all cameras are waiting, the executor then takes the extra ones first."""

    def __init__(self, node: Node, gate: FrameGate, params: LiveParameters, qos: QoSProfile) -> None:
        self._gate = gate
        self.names: list[str] = list(
            params.declare(
                "extra_cameras",
                [],
                "more camera views for a multi-view model, in the order it was trained on after the "
                "first: '<name>' subscribes <name>/image_raw",
            )
        )
        self.max_skew = params.declare(
            "max_view_skew",
            0.05,
            "an extra camera's frame must be stamped this close to the main camera's (s)",
            range=(0.0, 10.0),
            apply=self._set_max_skew,
        )
        self._frames: dict[str, StampedHistory[Image]] = {name: StampedHistory(size=8) for name in self.names}
        for name in self.names:
            node.create_subscription(
                Image, f"{name}/image_raw", lambda msg, n=name: self._frames[n].add(msg, stamp_seconds(msg.header)), qos
            )

    def _set_max_skew(self, value: float) -> None:
        self.max_skew = value

    @property
    def count(self) -> int:
        """Views in all: the main camera and the extra ones."""
        return 1 + len(self.names)

    def stack(self, main: Image, image: np.ndarray, size: int) -> np.ndarray | None:
        """(V, size, size, 3): the main camera's model image ``image`` and, for each extra camera,
        its frame nearest to ``main``; None after saying why not."""
        views = [image]
        stamp = stamp_seconds(main.header)
        for name in self.names:
            near = self._frames[name].nearest(stamp)
            if near is None:
                self._gate.refuse("no_view", f"no frame from {name}/image_raw yet")
                return None
            msg, at = near
            if abs(at - stamp) > self.max_skew:
                self._gate.refuse(
                    "view_skew",
                    f"{name}/image_raw's nearest frame is {abs(at - stamp) * 1e3:.0f} ms from "
                    f"the camera's (max_view_skew {self.max_skew * 1e3:.0f} ms)",
                )
                return None
            rgb = self._gate.colour(msg)
            if rgb is None:
                return None
            views.append(square(rgb, size))
        return np.stack(views)


class TrackPublisher:
    """Tracks on ``topic`` (32FC2, source-image pixels) and ``topic``/overlay (rgb8)."""

    def __init__(self, node: Node, topic: str) -> None:
        self._tracks = node.create_publisher(Image, topic, QoSProfile(depth=10))
        self._overlay = node.create_publisher(Image, f"{topic}/overlay", qos_profile_sensor_data)

    @property
    def wanted(self) -> bool:
        """Whether anyone listens: tracks that nobody reads are not worth computing."""
        return bool(self._tracks.get_subscription_count() or self._overlay.get_subscription_count())

    def publish(
        self,
        header: Header,
        points: np.ndarray,
        visible: np.ndarray | None,
        source_hw: tuple[int, int],
        image: np.ndarray,
    ) -> None:
        """points (S, N, 2) normalised (row, col) in ``image``, the centre square of a source
        image of ``source_hw``; visible (S, N) or None for all. The overlay is drawn over
        ``image`` only while someone subscribes (it costs milliseconds)."""
        self._tracks.publish(tracks_to_msg(square_to_source_xy(points, *source_hw), header, visible))
        if self._overlay.get_subscription_count():
            shown = np.ones(points.shape[:2], bool) if visible is None else visible
            self._overlay.publish(numpy_to_imgmsg(draw_tracks(image, points, shown), "rgb8", header))


class MotionPublisher:
    """amplify/motion_tokens, amplify/predicted_tracks and its overlay."""

    def __init__(self, node: Node) -> None:
        self._tokens = node.create_publisher(Image, "amplify/motion_tokens", QoSProfile(depth=10))
        self._tracks = TrackPublisher(node, "amplify/predicted_tracks")

    def publish(
        self,
        header: Header,
        codes: np.ndarray,
        rgb: np.ndarray,
        views: np.ndarray,
        decode: Callable[[np.ndarray, np.ndarray], np.ndarray | None] | None,
    ) -> None:
        """Tokens first; then, with ``decode`` (codes, the model images of every view (V, S, S, 3)
        -> tracks) and someone listening, the tracks they stand for (decoding takes ~28 ms for
        the shipped model, after the tokens are out, so it delays nobody waiting for them, but it
        does delay the next frame)."""
        self._tokens.publish(codes_to_msg(codes, header))
        tracks = decode(codes, views) if decode is not None and self._tracks.wanted else None
        if tracks is not None:
            self._tracks.publish(header, tracks[0], None, rgb.shape[:2], views[0])
