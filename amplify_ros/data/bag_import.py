"""rosbag2 bags -> episodes: camera frames, each with the robot state and action held at that frame.

- Topics. Image: ``sensor_msgs/Image`` (rgb8, bgr8, rgba8, bgra8, mono8) or
  ``sensor_msgs/CompressedImage`` (jpeg, png); by default the bag's only image topic. State:
  ``sensor_msgs/JointState`` positions of ``state_joints`` (default: the joints most messages
  name, in their order); by default the bag's only JointState topic, none when it has none.
  Action: only when ``action_topic`` is named; its type is read from the bag:
  ``trajectory_msgs/JointTrajectory`` (the first point's positions), ``std_msgs/Float64MultiArray``
  (``data``) or ``geometry_msgs/TwistStamped`` (linear x, y, z, angular x, y, z). Messages that
  lack a column (other joints, another array length) are skipped and counted.
- Time. A message's header stamp when it has a header with a non-zero stamp (a JointTrajectory
  stamped 0 means "start now"), else the time the recorder received it.
- Repeats. An image whose header stamp equals an earlier image's is the same frame published
  again (a driver or bridge re-sending it while it waits); only the first is kept.
- Sampling. Frames are taken at ``rate`` (default: the camera's own rate, from the mean interval
  between its frames, gaps excluded) on a uniform grid from the first frame; each grid time takes
  the nearest frame. A grid time with no frame within 0.75 camera periods is a camera gap. A rate
  above the camera's is refused: it would repeat frames.
- Alignment. Each frame holds the latest state and the latest action stamped at or before it. A
  frame with none yet, or whose state or action is older than ``tolerance`` seconds, is dropped.
- Episodes. Dropped frames cut the recording: each run of at least ``min_frames`` consecutive kept
  frames becomes one episode, so that every episode is uniformly timed at ``fps``.
  ``actions[t]`` is the action held at frame t (the last frame's is not stored). The task
  sentence is ``sentence``, else the first message on ``task_topic`` (what the recorder stores).
- Success: an ``episode.yaml`` in the bag's folder (written by the recorder node,
  ``amplify_ros.data.recording``) gives the episodes its ``success`` (true/false; null: unknown).
- More cameras (``extra_image_topics``, for multi-view models): each kept frame takes each extra
  camera's frame stamped nearest to it; a frame without one within ``view_skew`` seconds is
  dropped (``stale_view``). An extra camera is named after its topic (``camera_name``).
- Images are centre-cropped to a square and resized to ``size``, as ``video_import`` does.
- Episodes get ``env="rosbag"``, the main camera named ``camera``, no tracks (``amplify-data
  track`` adds them); ``extras["stamps_ns"]`` holds each frame's stamp; ``info`` the bag, its
  topics, the column names (``proprio``, ``actions``) and the camera rate.

What was dropped is counted per reason (``DROP_REASONS``); damaged files are recovered by
``bag_reader`` and its notes are passed on.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from rosbags.typesys import Stores, get_typestore

from amplify_ros.core.tracks import IMAGE_SIZE, square
from amplify_ros.data.bag_reader import BagReader, BagReadError
from amplify_ros.data.dataset import episode_path, prepare
from amplify_ros.data.episode import Episode, write_episode
from amplify_ros.data.image_msgs import compressed_to_rgb, to_rgb
from amplify_ros.data.manifest import DatasetManifest
from amplify_ros.data.video_import import next_index, task_name

CAMERA = "camera"
IMAGE, COMPRESSED = "sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage"
JOINT_STATE = "sensor_msgs/msg/JointState"
TRAJECTORY, ARRAY, TWIST = "trajectory_msgs/msg/JointTrajectory", "std_msgs/msg/Float64MultiArray", "geometry_msgs/msg/TwistStamped"
ACTION_TYPES = (TRAJECTORY, ARRAY, TWIST)
STRING = "std_msgs/msg/String"
TWIST_NAMES = ["linear.x", "linear.y", "linear.z", "angular.x", "angular.y", "angular.z"]
GAP_PERIODS = 0.75  # a grid time farther than this (in camera periods) from every frame is a gap
DROP_REASONS = {
    "camera_gap": "frames missing from the camera stream",
    "repeated_frame": "images repeating an earlier image's stamp (the same frame sent again)",
    "no_state_yet": "frames before the first state",
    "stale_state": "frames whose state is older than the tolerance",
    "no_action_yet": "frames before the first action",
    "stale_action": "frames whose action is older than the tolerance",
    "stale_view": "frames without an extra camera's frame within view_skew",
    "short_run": "frames in runs shorter than min_frames",
    "bad_image": "image messages that could not be decoded",
    "bad_state": "state messages without the selected joints",
    "bad_action": "action messages without the expected columns",
}
SIDECAR = "episode.yaml"  # the recorder's notes beside a bag
TYPESTORE = get_typestore(Stores.ROS2_KILTED)  # these message types are the same in every ROS 2 release


class BagImportError(RuntimeError):
    """A bag that yields no episode: missing or ambiguous topics, too few frames, no task."""


@dataclass(frozen=True)
class BagImportSettings:
    image_topic: str | None = None  # None: the bag's only image topic
    extra_image_topics: tuple[str, ...] = ()  # more cameras, in the order a multi-view model takes them
    view_skew: float = 0.05  # seconds an extra camera's frame may be from the main camera's
    state_topic: str | None = None  # None: the bag's only JointState topic, if any
    state_joints: tuple[str, ...] = ()  # () = all joints of the first state message
    action_topic: str | None = None  # None: action-free episodes
    rate: float | None = None  # frames per second; None = the camera's rate
    tolerance: float = 0.2  # seconds a held state or action may be older than its frame
    size: int = IMAGE_SIZE
    min_frames: int = 2
    task_topic: str = "/amplify/task"

    def __post_init__(self) -> None:
        if self.rate is not None and not self.rate > 0:
            raise ValueError(f"rate must be > 0, got {self.rate}")
        if not self.tolerance >= 0 or not self.view_skew >= 0:
            raise ValueError(f"tolerance and view_skew must be >= 0, got {self.tolerance} and {self.view_skew}")
        names = [camera_name(t) for t in self.extra_image_topics]
        if len(set(names)) != len(names) or CAMERA in names:
            raise ValueError(f"extra image topics {list(self.extra_image_topics)} give the cameras {names}: names must differ "
                             f"from each other and from {CAMERA!r}")
        if self.size < 1 or self.min_frames < 1:
            raise ValueError(f"size and min_frames must be >= 1, got {self.size} and {self.min_frames}")


@dataclass
class Stream:
    """One topic's samples: ``stamps`` (N,) int64 ns, ascending; ``values`` (N, D)."""

    names: list[str]
    stamps: np.ndarray
    values: np.ndarray


@dataclass
class BagEpisodes:
    episodes: list[Episode]
    dropped: Counter[str]  # DROP_REASONS key -> count
    notes: list[str] = field(default_factory=list)  # recovered files, first error of each kind


def camera_name(topic: str) -> str:
    """An extra camera's name in the episodes: its topic's last segment that is not an image
    stream's usual name (/wrist/image_raw and /wrist/color/image_raw/compressed -> wrist)."""
    generic = {"image_raw", "image_rect", "image_rect_color", "image_color", "image", "compressed", "color", "rgb"}
    parts = [p for p in topic.strip("/").split("/") if p]
    return next((p for p in reversed(parts) if p not in generic), parts[-1] if parts else topic)


def episode_success(bag: str | os.PathLike) -> bool | None:
    """The success the recorder's operator marked in the bag's episode.yaml; None when unmarked."""
    bag = Path(bag)
    try:
        notes = yaml.safe_load(((bag if bag.is_dir() else bag.parent) / SIDECAR).read_text())
    except (FileNotFoundError, NotADirectoryError, yaml.YAMLError):
        return None
    success = notes.get("success") if isinstance(notes, dict) else None
    return success if isinstance(success, bool) else None


def _pick(topics: dict[str, str], wanted: str | None, types: Sequence[str], what: str, required: bool) -> str | None:
    """The topic named ``wanted`` (checked) or, when None, the only topic of ``types``."""
    if wanted is not None:
        if wanted not in topics:
            raise BagImportError(f"no {what} topic {wanted!r} in the bag (topics: {', '.join(sorted(topics)) or 'none'})")
        if topics[wanted] not in types:
            raise BagImportError(f"{what} topic {wanted} is {topics[wanted]}, expected {' or '.join(types)}")
        return wanted
    found = sorted(t for t, msgtype in topics.items() if msgtype in types)
    if len(found) > 1:
        raise BagImportError(f"several {what} topics ({', '.join(found)}): choose one")
    if not found and required:
        raise BagImportError(f"no {what} topic ({' or '.join(types)}) in the bag")
    return found[0] if found else None


def _stamp(msg: Any, received: int) -> int:
    header = getattr(msg, "header", None)
    if header is not None and (header.stamp.sec or header.stamp.nanosec):
        return header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
    return received


def _columns(msgtype: str, msg: Any) -> tuple[list[str], Sequence[float]]:
    """Named values of a state or action message."""
    if msgtype == JOINT_STATE:
        return list(msg.name), msg.position
    if msgtype == TRAJECTORY:
        return list(msg.joint_names), msg.points[0].positions if len(msg.points) else ()
    if msgtype == ARRAY:
        return [f"data_{i}" for i in range(len(msg.data))], msg.data
    lin, ang = msg.twist.linear, msg.twist.angular
    return TWIST_NAMES, [lin.x, lin.y, lin.z, ang.x, ang.y, ang.z]


class _StreamBuilder:
    """One topic's named vectors. The columns are ``wanted``, or else the name list most messages
    carry (a gripper published apart on the same topic must not decide them); rows lacking a
    column (or, for arrays, of another length) are skipped."""

    def __init__(self, wanted: Sequence[str], exact: bool) -> None:
        self.wanted = list(wanted)
        self.exact = exact
        self.rows: list[tuple[int, tuple[str, ...], Sequence[float]]] = []

    def add(self, stamp: int, names: list[str], values: Sequence[float]) -> None:
        self.rows.append((stamp, tuple(names), values))

    def build(self, topic: str) -> tuple[Stream, int, str]:
        """(the stream, how many rows were skipped, why the first one was)."""
        counts = Counter(names for _, names, values in self.rows if names and len(values) == len(names))
        if not counts:
            raise BagImportError(f"{topic}: no message has one value per name")
        columns = self.wanted or list(counts.most_common(1)[0][0])
        stamps, rows, first = [], [], ""
        for stamp, names, values in self.rows:
            index = {n: i for i, n in enumerate(names)}
            missing = [c for c in columns if c not in index]
            if len(values) != len(names) or missing or (self.exact and len(names) != len(columns)):
                first = first or f"it has {len(values)} value(s) for {list(names)}, expected {columns}"
                continue
            stamps.append(stamp)
            rows.append(np.array([values[index[c]] for c in columns], np.float64))
        if not rows:
            raise BagImportError(f"{topic}: no message has all of {columns}")
        order = np.argsort(stamps, kind="stable")
        return Stream(columns, np.asarray(stamps, np.int64)[order], np.stack(rows)[order]), len(self.rows) - len(rows), first


@dataclass
class _Read:
    """What one pass over the bag collected."""

    frame_stamps: np.ndarray  # (F,) int64, ascending
    frames: np.ndarray  # (F, size, size, 3) uint8
    views: dict[str, tuple[np.ndarray, np.ndarray]]  # extra camera -> (stamps, frames), as above
    state: Stream | None
    action: Stream | None
    sentence: str | None


def _read(reader: BagReader, image: str, state: str | None, action: str | None, types: dict[str, str],
          settings: BagImportSettings, dropped: Counter[str], notes: list[str]) -> _Read:
    builders = {t: _StreamBuilder(settings.state_joints if t == state else (), types[t] == ARRAY) for t in (state, action) if t}
    task = settings.task_topic if types.get(settings.task_topic) == STRING else None
    cameras = (image, *settings.extra_image_topics)
    kinds = {**{c: "bad_image" for c in cameras}, state: "bad_state", action: "bad_action", task: ""}
    first_error: dict[str, str] = {}
    frames: dict[str, list[tuple[int, np.ndarray]]] = {c: [] for c in cameras}
    sentence = None
    for m in reader.messages([t for t in (*cameras, state, action, task) if t]):
        try:  # rosbags raises assorted errors on malformed CDR; such a message is skipped and counted
            msg = TYPESTORE.deserialize_cdr(m.data, m.msgtype)
            if m.topic == task:
                sentence = sentence or msg.data.strip() or None
                continue
            if m.topic in frames:
                rgb = compressed_to_rgb(msg) if m.msgtype == COMPRESSED else to_rgb(msg)
                frames[m.topic].append((_stamp(msg, m.timestamp), square(rgb, settings.size)))
                continue
            builders[m.topic].add(_stamp(msg, m.timestamp), *_columns(m.msgtype, msg))
        except Exception as e:  # noqa: BLE001 - see above
            if kinds[m.topic]:  # a malformed task message is simply not used
                dropped[kinds[m.topic]] += 1
                first_error.setdefault(m.topic, f"{type(e).__name__}: {e}")
    streams = {}
    for topic, builder in builders.items():
        streams[topic], skipped, why = builder.build(topic)
        if skipped:
            dropped[kinds[topic]] += skipped
            first_error.setdefault(topic, why)
    notes += [f"{topic}: skipped {dropped[kinds[topic]]} message(s), the first because {e}" for topic, e in first_error.items()]
    main = _distinct(frames[image], image, dropped)
    views = {camera_name(t): _distinct(frames[t], t, Counter()) for t in settings.extra_image_topics}
    return _Read(*main, views, streams.get(state), streams.get(action), sentence)


def _distinct(frames: list[tuple[int, np.ndarray]], topic: str, dropped: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
    """(stamps, frames) in stamp order, a frame sent again kept once (counted as repeated_frame)."""
    if len(frames) < 2:
        raise BagImportError(f"{topic}: {len(frames)} readable frame(s); at least 2 are needed")
    frames.sort(key=lambda f: f[0])  # stable: of frames sharing a stamp, the first received comes first
    stamps = np.array([s for s, _ in frames], np.int64)
    first = np.concatenate([[True], np.diff(stamps) > 0])
    dropped["repeated_frame"] += int((~first).sum())
    if first.sum() < 2:
        raise BagImportError(f"{topic}: {int(first.sum())} distinct frame(s); at least 2 are needed")
    return stamps[first], np.stack([f for (_, f), keep in zip(frames, first) if keep])


def _grid(frame_stamps: np.ndarray, rate: float | None) -> tuple[np.ndarray, np.ndarray, float, float]:
    """(frame index per grid time, whether that frame is close enough, fps, camera fps)."""
    intervals = np.diff(frame_stamps)
    typical = np.median(intervals)  # > 0: repeated stamps are gone
    period = float(intervals[intervals < 1.5 * typical].mean())  # ns; exact even for ms-rounded stamps
    camera_fps = 1e9 / period
    fps = rate or camera_fps
    if fps > camera_fps * 1.01:
        raise BagImportError(f"rate {fps:g} Hz is above the camera's {camera_fps:.3g} Hz: frames would repeat")
    count = int((frame_stamps[-1] - frame_stamps[0]) * fps / 1e9 + 1e-6) + 1  # at the camera's rate: one per frame
    grid = frame_stamps[0] + np.round(np.arange(count) * (1e9 / fps)).astype(np.int64)
    nearest = _nearest(frame_stamps, grid)
    close = np.abs(frame_stamps[nearest] - grid) <= GAP_PERIODS * period
    return nearest, close, fps, camera_fps


def _held(stream: Stream, at: np.ndarray, tolerance_ns: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(index of the latest sample at or before each time, none yet, older than the tolerance)."""
    index = np.searchsorted(stream.stamps, at, side="right") - 1
    none_yet = index < 0
    index = np.clip(index, 0, None)
    return index, none_yet, ~none_yet & (at - stream.stamps[index] > tolerance_ns)


def _nearest(stamps: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Index of the stamp nearest to each of ``at`` (of two as near, the earlier)."""
    after = np.clip(np.searchsorted(stamps, at), 0, len(stamps) - 1)
    before = np.clip(after - 1, 0, None)
    return np.where(np.abs(stamps[after] - at) < np.abs(stamps[before] - at), after, before)


def _runs(keep: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], keep.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def bag_episodes(path: str | os.PathLike, sentence: str | None, settings: BagImportSettings) -> BagEpisodes:
    """The episodes of one bag (module docstring); raises ``BagReadError`` / ``BagImportError``."""
    reader = BagReader(path)
    types = reader.topics()
    for extra in settings.extra_image_topics:
        _pick(types, extra, (IMAGE, COMPRESSED), "extra image", required=True)
    mains = {t: kind for t, kind in types.items() if t not in settings.extra_image_topics}  # the only other camera
    image = _pick(mains if settings.image_topic is None else types, settings.image_topic, (IMAGE, COMPRESSED), "image",
                  required=True)
    state = _pick(types, settings.state_topic, (JOINT_STATE,), "state", required=False)
    action = _pick(types, settings.action_topic, ACTION_TYPES, "action", required=True) if settings.action_topic else None
    assert image is not None
    dropped: Counter[str] = Counter()
    notes: list[str] = []
    read = _read(reader, image, state, action, types, settings, dropped, notes)
    notes[:0] = reader.notes
    sentence = sentence or read.sentence
    if not sentence:
        raise BagImportError(f"no task sentence: give one, or record it on {settings.task_topic} (std_msgs/String)")
    nearest, keep, fps, camera_fps = _grid(read.frame_stamps, settings.rate)
    success = episode_success(path)
    dropped["camera_gap"] += int((~keep).sum())
    stamps = read.frame_stamps[nearest]
    held = {}
    for name, stream in (("state", read.state), ("action", read.action)):
        if stream is not None:
            index, none_yet, stale = _held(stream, stamps, settings.tolerance * 1e9)
            dropped[f"no_{name}_yet"] += int((keep & none_yet).sum())
            dropped[f"stale_{name}"] += int((keep & stale).sum())
            keep &= ~none_yet & ~stale
            held[name] = index
    views = {}
    for name, (view_stamps, view_frames) in read.views.items():
        index = _nearest(view_stamps, stamps)
        skewed = keep & (np.abs(view_stamps[index] - stamps) > settings.view_skew * 1e9)
        dropped["stale_view"] += int(skewed.sum())
        keep &= ~skewed
        views[name] = view_frames[index]
    episodes = []
    for start, stop in _runs(keep):
        if stop - start < settings.min_frames:
            dropped["short_run"] += stop - start
            continue
        frames = nearest[start:stop]
        episodes.append(Episode(
            task=task_name(sentence), sentence=sentence, fps=fps, success=success,
            images={CAMERA: read.frames[frames], **{name: v[start:stop] for name, v in views.items()}},
            proprio=read.state.values[held["state"][start:stop]].astype(np.float32) if read.state else None,
            actions=read.action.values[held["action"][start : stop - 1]].astype(np.float32) if read.action else None,
            env="rosbag", extras={"stamps_ns": read.frame_stamps[frames]},
            info={
                "source_file": str(path), "image_topic": image, "extra_image_topics": list(settings.extra_image_topics),
                "state_topic": state, "action_topic": action,
                "proprio": read.state.names if read.state else None, "actions": read.action.names if read.action else None,
                "camera_fps": camera_fps, "run": len(episodes),
            },
        ))
    return BagEpisodes(episodes, +dropped, notes)


def manifest(settings: BagImportSettings) -> dict[str, Any]:
    """``dataset.yaml`` of imported bags, as written: other topics, joints, sizes or rates go elsewhere."""
    return DatasetManifest(
        env="rosbag", image_size=settings.size, fps=settings.rate,
        cameras=[CAMERA, *map(camera_name, settings.extra_image_topics)], action_free=settings.action_topic is None,
        image_topic=settings.image_topic, extra_image_topics=list(settings.extra_image_topics),
        state_topic=settings.state_topic, state_joints=list(settings.state_joints), action_topic=settings.action_topic,
    ).to_dict()


@dataclass(frozen=True)
class BagImportResult:
    source: Path
    paths: list[Path]  # the episodes written; empty when the bag was skipped
    frames: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    error: str = ""


def import_bags(sources: list[Path], sentence: str | None, root: Path, settings: BagImportSettings) -> Iterator[BagImportResult]:
    """Import each bag as the next episode(s) of its task under ``root``; a bag that yields no
    episode is reported (``error``) and skipped."""
    if sentence is not None:
        task_name(sentence)  # a sentence that names no folder fails before any work
    prepare(root, manifest(settings))
    for source in sources:
        try:
            result = bag_episodes(source, sentence, settings)
            if not result.episodes:
                raise BagImportError(f"every frame was dropped ({', '.join(f'{k}: {v}' for k, v in result.dropped.items())})")
        except (BagReadError, BagImportError, ValueError) as e:
            yield BagImportResult(source, [], error=f"{source}: {e}")
            continue
        paths = []
        for ep in result.episodes:
            index = next_index(root, ep.task)
            ep.info["index"] = index
            paths.append(write_episode(episode_path(root, ep.task, index), ep))
        frames = sum(ep.num_frames for ep in result.episodes)
        yield BagImportResult(source, paths, frames, dict(result.dropped), result.notes)
