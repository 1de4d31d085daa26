"""recorder_node: demonstrations as rosbag2 bags, one per episode, started and stopped by service.

Each configured topic is subscribed once its first publisher appears (the graph is polled;
nothing sleeps), with the type the graph reports (or the one a ``topic:pkg/msg/Type`` entry
pins) and a QoS adapted to the publishers, so a best-effort camera and the transient-local task
sentence are both heard. Messages arrive as raw CDR and are written as they are
(research/platform.md) by ``amplify_ros.data.recording``, which keeps the episodes: folders,
episode.yaml (success, counts), the latched task written into every episode, failures. A timer
flushes the bag, so a crash loses at most ``flush_seconds``. With ``image_transport: compressed``
each camera image topic is recorded as image_transport's compressed stream of it,
``<topic after remapping>/compressed`` (sensor_msgs/CompressedImage), 10-20x smaller (README,
"Compressed recordings"); ``import-bag`` reads either. A write failure (folder not
writable, disk full) ends the episode with the error on ~/status, /diagnostics and in the log;
the node keeps running and the next ~/start may succeed.
"""

from __future__ import annotations

import importlib
import json
import re
import time
from functools import partial

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, ReliabilityPolicy
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

from amplify_ros.core.tracks import IMAGE_SIZE
from amplify_ros.data.bag_import import TYPESTORE, BagImportSettings
from amplify_ros.data.bag_writer import STORAGES, BagWriteError
from amplify_ros.data.recording import MODES, EpisodeRecorder, recorded_in
from amplify_ros.nodes.bringup import run_node
from amplify_ros.nodes.diagnostics import DiagnosticsReporter, Health
from amplify_ros.nodes.parameters import LiveParameters
from amplify_ros.nodes.qos import latched_qos, recording_qos

CAMERA_TOPICS = ["camera/image_raw", "camera/camera_info", "amplify/task"]
TELEOP_TOPICS = ["camera/image_raw", "camera/camera_info", "joint_states", "amplify/command", "amplify/task"]
TYPE_PATTERN = re.compile(r"[A-Za-z]\w*/msg/[A-Za-z]\w*")
IMAGE, COMPRESSED = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
IMAGE_STREAMS = {
    "image_raw",
    "image_rect",
    "image_rect_color",
    "image_color",
    "image",
}  # a camera image's topic ends so
TRANSPORTS = ("raw", "compressed")


def topic_entry(entry: str) -> tuple[str, str | None]:
    """'topic' or 'topic:pkg/msg/Type' -> (topic, type or None); ValueError naming a bad entry."""
    topic, _, msgtype = entry.partition(":")
    if not topic or (msgtype and not TYPE_PATTERN.fullmatch(msgtype)):
        raise ValueError(f"topics entry {entry!r} is not 'topic' or 'topic:pkg/msg/Type'")
    return topic, msgtype or None


def message_class(msgtype: str) -> type:
    """The rclpy class of ``pkg/msg/Type``; ValueError saying which package to install."""
    pkg, _, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.msg"), name)
    except (ImportError, AttributeError):
        raise ValueError(
            f"no Python class for {msgtype}: install its package "
            f"(pip install ros-{pkg.replace('_', '-')}, or apt ros-<distro>-{pkg.replace('_', '-')})"
        ) from None


class RecorderNode(Node):
    """Subscribes the ``topics`` (raw); serves ~/start, ~/stop, ~/discard, ~/mark_success;
    publishes ~/status (JSON, transient local) and /diagnostics."""

    def __init__(self, **kwargs) -> None:
        super().__init__("amplify_recorder", **kwargs)
        self.health = Health()
        self.episodes = EpisodeRecorder()
        p = LiveParameters(self)
        self.mode = p.declare(
            "mode",
            "teleop",
            "'teleop': camera, robot state, commands and task; 'action_free': "
            "camera images, camera info and the task only (video demonstrations)",
            choices=MODES,
        )
        entries = p.declare(
            "topics",
            TELEOP_TOPICS if self.mode == "teleop" else CAMERA_TOPICS,
            "topics to record, each 'topic' (type from the graph) or 'topic:pkg/msg/Type'; "
            "action_free mode skips the types it does not record",
        )
        self.extra_cameras = p.declare(
            "extra_cameras",
            [],
            "more cameras to record, as the policy's extra_cameras: "
            "'<name>' adds <name>/image_raw and <name>/camera_info (and write_episodes "
            "imports them as views)",
        )
        entries = [
            *entries,
            *(f"{name}/{stream}" for name in self.extra_cameras for stream in ("image_raw", "camera_info")),
        ]
        self.transport = p.declare(
            "image_transport",
            "raw",
            "how camera images are recorded: 'raw' (the topics as "
            "named) or 'compressed': each image topic (ending in image_raw, image_rect, "
            "image_rect_color, image_color or image, or pinned to sensor_msgs/msg/Image) as its "
            "image_transport stream <topic>/compressed (sensor_msgs/CompressedImage; the camera "
            "node's compression parameter)",
            choices=TRANSPORTS,
        )
        self.output_dir = p.declare(
            "output_dir",
            "recordings",
            "episode i is the bag <output_dir>/<name>_<iiii> (applies to the next episode)",
            apply=p.setter("output_dir"),
        )
        self.episode_name = p.declare(
            "name", "episode", "episode folder prefix (applies to the next episode)", apply=p.setter("episode_name")
        )
        self.storage = p.declare(
            "storage", "mcap", "rosbag2 storage of the next episode", choices=tuple(STORAGES), apply=p.setter("storage")
        )
        self.flush_seconds = p.declare(
            "flush_seconds",
            1.0,
            "hand the bag to the OS this often: a crash loses at most this much (s; next episode)",
            range=(0.05, 60.0),
            apply=p.setter("flush_seconds"),
        )
        self.split_seconds = p.declare(
            "split_seconds",
            60.0,
            "start a new bag file this often (s; 0: never; next episode)",
            range=(0.0, 86400.0),
            apply=p.setter("split_seconds"),
        )
        self.depth = p.declare("queue_depth", 100, "subscription queue per topic", range=(1, 10000))
        self.write_episodes = p.declare(
            "write_episodes",
            False,
            "after ~/stop, also import the bag into the dataset at dataset_dir (episodes without tracks)",
            apply=p.setter("write_episodes"),
        )
        self.dataset_dir = p.declare(
            "dataset_dir",
            "",
            "dataset folder for write_episodes (empty: <output_dir>/dataset)",
            apply=p.setter("dataset_dir"),
        )
        self.dataset_image_size = p.declare(
            "dataset_image_size",
            IMAGE_SIZE,
            "write_episodes: square image side (px)",
            range=(16, 1024),
            apply=p.setter("dataset_image_size"),
        )
        self.action_topic = self.resolve_topic_name(
            p.declare("action_topic", "amplify/command", "write_episodes, teleop mode: the topic holding the actions")
        )

        self._pending = dict(self.transported(*topic_entry(e)) for e in entries)  # until subscribed
        self._recorded: dict[str, str] = {}  # topic -> type
        self._skipped: dict[str, str] = {}  # topic -> why it is not recorded
        self.status_pub = self.create_publisher(String, "~/status", latched_qos())
        self.create_service(Trigger, "~/start", self.on_start)
        self.create_service(Trigger, "~/stop", self.on_stop)
        self.create_service(Trigger, "~/discard", self.on_discard)
        self.create_service(SetBool, "~/mark_success", self.on_mark_success)
        self.discovery = self.create_timer(0.2, self.discover)
        self.create_timer(0.1, self.flush)
        self.create_timer(1.0, self.heartbeat)
        self.diagnostics = DiagnosticsReporter(self, self.health)
        self.discover()
        self.publish_status()

    def now_ns(self) -> int:
        return self.get_clock().now().nanoseconds

    def transported(self, topic: str, msgtype: str | None) -> tuple[str, str | None]:
        """(full topic name, pinned type) to record ``topic`` by: a camera image's compressed stream
        under image_transport compressed, named as image_transport names it (after remapping)."""
        resolved = self.resolve_topic_name(topic)
        is_image = msgtype == IMAGE or (msgtype is None and resolved.rsplit("/", 1)[-1] in IMAGE_STREAMS)
        if self.transport == "compressed" and is_image:
            return f"{resolved}/compressed", COMPRESSED
        return resolved, msgtype

    # --- topics ---------------------------------------------------------------------------------
    def discover(self) -> None:
        """Subscribe each pending topic that has publishers now."""
        found = {topic: offered for topic in self._pending if (offered := self.get_publishers_info_by_topic(topic))}
        for topic, offered in found.items():
            self._subscribe(topic, self._pending.pop(topic), offered)
        if not self._pending:
            self.discovery.cancel()
        self.health.status = f"waiting for publishers on {', '.join(self._pending)}" if self._pending else "running"
        if found:
            self.publish_status()

    def _subscribe(self, topic: str, pinned: str | None, offered: list) -> None:
        types = sorted({info.topic_type for info in offered})
        try:
            if pinned is not None and pinned not in types:
                raise ValueError(f"{topic} is published as {', '.join(types)}, not {pinned}")
            if pinned is None and len(types) > 1:
                raise ValueError(f"{topic} is published as {', '.join(types)}: pin one with '{topic}:<type>'")
            msgtype = pinned or types[0]
            if not recorded_in(self.mode, msgtype):
                self._skipped[topic] = f"{msgtype} is not recorded in {self.mode} mode"
                self.get_logger().info(f"not recording {topic}: {self._skipped[topic]}")
                return
            if msgtype not in TYPESTORE.types:
                raise ValueError(f"{topic}: {msgtype} is unknown to rosbags' typestore, so the bag cannot describe it")
            cls = message_class(msgtype)
        except ValueError as err:
            self._skipped[topic] = str(err)
            self.health.error = f"not recording {err}"
            self.get_logger().error(self.health.error)
            return
        qos = recording_qos([info.qos_profile for info in offered], self.depth)
        latched = qos.durability == DurabilityPolicy.TRANSIENT_LOCAL
        self.create_subscription(cls, topic, partial(self.on_message, topic, msgtype, latched), qos, raw=True)
        self._recorded[topic] = msgtype
        self.get_logger().info(
            f"recording {topic} ({msgtype}, "
            f"{'reliable' if qos.reliability == ReliabilityPolicy.RELIABLE else 'best effort'}"
            f"{', transient local' if latched else ''})"
        )

    def on_message(self, topic: str, msgtype: str, latched: bool, data: bytes) -> None:
        start = time.perf_counter()
        try:
            self.episodes.receive(topic, msgtype, data, self.now_ns(), latched)
        except BagWriteError as err:
            self.failed(err)
            return
        if self.episodes.recording:
            self.health.ok((time.perf_counter() - start) * 1e3)

    def flush(self) -> None:
        try:
            self.episodes.flush_if_due()
        except BagWriteError as err:
            self.failed(err)

    def failed(self, err: BagWriteError) -> None:
        """A write failure ended the episode: say so everywhere; the node carries on."""
        self.health.error = f"recording stopped: {err}"
        self.get_logger().error(self.health.error)
        self.publish_status()

    # --- services ------------------------------------------------------------------------------
    def on_start(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            path = self.episodes.start(
                self.output_dir,
                self.episode_name,
                self.now_ns(),
                mode=self.mode,
                storage=self.storage,
                flush_seconds=self.flush_seconds,
                split_seconds=self.split_seconds or None,
            )
        except BagWriteError as err:
            self.health.error = f"cannot start an episode: {err}"
            self.get_logger().error(self.health.error)
            return self.answer(response, False, self.health.error)
        except (RuntimeError, ValueError) as err:
            return self.answer(response, False, str(err))
        self.health.error = ""
        waiting = f"; still waiting for publishers on {', '.join(self._pending)}" if self._pending else ""
        return self.answer(response, True, f"recording episode {self.episodes.episode['index']} into {path}{waiting}")

    def on_stop(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            ep = self.episodes.stop(self.now_ns())
        except BagWriteError as err:
            self.failed(err)
            return self.answer(response, False, self.health.error)
        except RuntimeError as err:
            return self.answer(response, False, str(err))
        message = f"episode {ep['index']}: {ep['messages']} messages, {ep['bytes'] / 1e6:.1f} MB in {ep['path']}"
        if self.write_episodes:
            message += "; " + self.convert()
        return self.answer(response, True, message)

    def convert(self) -> str:
        """Import the stopped episode into the dataset; what happened, in words."""
        image = self.transported("camera/image_raw", None)[0]
        settings = BagImportSettings(
            image_topic=image if image in self._recorded else None,
            size=self.dataset_image_size,
            extra_image_topics=tuple(self.transported(f"{name}/image_raw", None)[0] for name in self.extra_cameras),
            action_topic=self.action_topic if self.mode == "teleop" and self.action_topic in self._recorded else None,
            task_topic=self.resolve_topic_name("amplify/task"),
        )
        root = self.dataset_dir or f"{self.output_dir}/dataset"
        try:
            paths = self.episodes.convert(root, settings)
        except (BagWriteError, ValueError, RuntimeError, OSError) as err:  # DatasetMismatchError is a RuntimeError
            self.get_logger().warning(f"episode not converted: {err}")
            return f"not converted: {err}"
        return f"{len(paths)} dataset episode(s) in {root}"

    def on_discard(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        try:
            path = self.episodes.discard()
        except RuntimeError as err:
            return self.answer(response, False, str(err))
        return self.answer(response, True, f"deleted {path}")

    def on_mark_success(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        try:
            path = self.episodes.mark_success(request.data)
        except (RuntimeError, BagWriteError, OSError) as err:
            return self.answer(response, False, str(err))
        return self.answer(response, True, f"{path}: success {str(request.data).lower()}")

    def answer(self, response, success: bool, message: str):
        """Fill a Trigger / SetBool response, log it and publish the new status."""
        response.success, response.message = success, message
        if success:
            self.get_logger().info(message)
        else:  # rclpy needs one call site per severity
            self.get_logger().warning(message)
        self.publish_status()
        return response

    # --- status --------------------------------------------------------------------------------
    def heartbeat(self) -> None:
        """Counts change with every message: publish them once a second while recording."""
        if self.episodes.recording:
            self.publish_status()

    def publish_status(self) -> None:
        status = self.episodes.status()
        self.health.info = {k: str(status[k]) for k in ("state", "episode", "messages", "bytes")}
        status.update(
            mode=self.mode,
            image_transport=self.transport,
            topics=self._recorded,
            waiting_for=list(self._pending),
            skipped=self._skipped,
        )
        self.status_pub.publish(String(data=json.dumps(status)))

    def destroy_node(self) -> None:
        """Finish a running episode, so its bag is complete after Ctrl-C."""
        if self.episodes.recording:
            try:
                self.episodes.stop(self.now_ns())
            except BagWriteError as err:
                self.get_logger().error(f"recording stopped: {err}")
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    run_node(RecorderNode, args)


if __name__ == "__main__":
    main()
