"""A LeRobotDataset v3.0 folder -> our episodes, one per LeRobot episode (layout in ``lerobot_format``).

- Cameras: each chosen video feature (``observation.images.top``) becomes a camera named after
  its last part (``top``); frames are centre-cropped and resized to ``size`` as import-video does.
  Frame t of an episode is the video frame nearest ``from_timestamp + timestamp[t]``.
- Rate: frames are resampled to ``fps`` by import-video's rule (output frame k takes the source
  frame nearest to time k / fps; frames are dropped or repeated, never blended). State and action
  are those of the frame taken: when slowing down, the actions of skipped frames are not summed
  or averaged, which suits absolute targets (joint positions), not per-frame deltas.
- ``state`` / ``action``: the features used as proprio and actions (default ``observation.state``
  and ``action`` when the dataset has them); their dimension names, from info.json, go to the
  episode's ``info["proprio"]`` / ``info["actions"]`` as import-bag records them. The last frame's
  action is dropped (ours are the T-1 actions between frames). ``action_free`` keeps video only.
- The task sentence is the first frame's task (``meta/tasks.parquet``); the task folder is named
  from it as import-video does. Episodes get ``env="lerobot"``, no tracks (``amplify-data track``
  adds them), ``extras["source_frame_index"]`` and ``info`` naming the source episode and features.

Everything is checked before the first episode is written (info.json, the cameras and features
asked for, the tables, every video file the episodes name); an episode whose video then fails
to decode is reported and skipped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amplify_ros.core.tracks import IMAGE_SIZE, square
from amplify_ros.data.dataset import episode_path, prepare
from amplify_ros.data.episode import Episode, write_episode
from amplify_ros.data.lerobot_format import (
    INDEX_FEATURES, LeRobotFormatError, column_rows, feature_names, read_episodes, read_info, read_tables, read_tasks,
)
from amplify_ros.data.lerobot_video import FrameReader, VideoDecodeError
from amplify_ros.data.manifest import DatasetManifest
from amplify_ros.data.video_import import DEFAULT_FPS, next_index, task_name

STATE, ACTION = "observation.state", "action"


@dataclass(frozen=True)
class LeRobotImportSettings:
    cameras: tuple[str, ...]  # video feature keys, e.g. observation.images.top
    fps: float = DEFAULT_FPS
    size: int = IMAGE_SIZE
    state: str | None = None  # None: observation.state if the dataset has it
    action: str | None = None  # None: action if the dataset has it
    action_free: bool = False

    def __post_init__(self) -> None:
        if not self.cameras:
            raise ValueError("name at least one camera (a video feature such as observation.images.top)")
        if not self.fps > 0 or self.size < 1:
            raise ValueError(f"fps must be > 0 and size >= 1, got {self.fps} and {self.size}")


@dataclass(frozen=True)
class LeRobotImportResult:
    episode: int  # the LeRobot episode_index
    path: Path | None  # the episode written; None when skipped
    frames: int = 0
    error: str = ""


def camera_name(key: str) -> str:
    """observation.images.top -> top (other characters than letters, digits, - and _ become _)."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", key.rsplit(".", 1)[-1]) or "camera"


def resample(count: int, source_fps: float, fps: float) -> np.ndarray:
    """Source frame index of each output frame (import-video's nearest-in-time rule)."""
    step = source_fps / fps
    out, k = [], 0
    while (index := math.floor(k * step + 0.5)) < count:
        out.append(index)
        k += 1
    return np.array(out, np.int64)


@dataclass
class _Plan:
    root: Path
    info: dict[str, Any]
    tasks: dict[int, str]
    episodes: list[dict[str, Any]]
    cameras: dict[str, str]  # our name -> LeRobot key
    state: str | None
    action: str | None
    videos: dict[tuple[int, str], Path]  # (episode, key) -> mp4


def _feature(features: dict, key: str | None, default: str, what: str) -> str | None:
    if key is None:
        return default if default in features else None
    if key not in features:
        vectors = sorted(k for k, f in features.items()
                         if f.get("dtype") not in ("video", "image", "string") and k not in INDEX_FEATURES)
        raise LeRobotFormatError(f"no {what} feature {key!r} (vector features: {', '.join(vectors) or 'none'})")
    return key


def plan(root: Path, settings: LeRobotImportSettings) -> _Plan:
    """Everything checked before anything is written; raises ``LeRobotFormatError``."""
    info = read_info(root)
    features = info["features"]
    videos_available = sorted(k for k, f in features.items() if f.get("dtype") == "video")
    cameras: dict[str, str] = {}
    for key in settings.cameras:
        if key not in features:
            raise LeRobotFormatError(f"no camera {key!r} in {root} (video features: {', '.join(videos_available) or 'none'})")
        if features[key].get("dtype") != "video":
            raise LeRobotFormatError(f"{key} is stored as {features[key].get('dtype')!r}, not video: only video features are read")
        name = camera_name(key)
        if name in cameras:
            raise LeRobotFormatError(f"cameras {cameras[name]} and {key} would both be named {name!r}")
        cameras[name] = key
    state = _feature(features, settings.state, STATE, "state")
    action = None if settings.action_free else _feature(features, settings.action, ACTION, "action")
    tasks = read_tasks(root)
    episodes = read_episodes(root)
    if len(episodes) != info["total_episodes"]:
        raise LeRobotFormatError(f"{root}: info.json says {info['total_episodes']} episodes, meta/episodes has {len(episodes)}")
    videos, missing = {}, []
    for ep in episodes:
        for key in cameras.values():
            try:
                path = root / info["video_path"].format(video_key=key, chunk_index=ep[f"videos/{key}/chunk_index"],
                                                        file_index=ep[f"videos/{key}/file_index"])
            except (KeyError, TypeError, AttributeError) as e:
                raise LeRobotFormatError(f"{root}: episode {ep['episode_index']} has no video location for {key} ({e})") from None
            videos[ep["episode_index"], key] = path
            if not path.is_file():
                missing.append(str(path.relative_to(root)))
    if missing:
        raise LeRobotFormatError(f"{root}: {len(set(missing))} video file(s) missing, e.g. {sorted(set(missing))[0]}")
    return _Plan(root, info, tasks, episodes, cameras, state, action, videos)


def manifest(p: _Plan, settings: LeRobotImportSettings) -> DatasetManifest:
    """``dataset.yaml`` of a LeRobot import: other cameras, features, sizes or rates go elsewhere."""
    return DatasetManifest(env="lerobot", image_size=settings.size, fps=settings.fps, cameras=list(p.cameras),
                           lerobot_cameras=list(p.cameras.values()), state=p.state, action=p.action, action_free=p.action is None)


class _Frames:
    """The data table's rows, grouped by episode in frame order."""

    def __init__(self, p: _Plan) -> None:
        columns = ["episode_index", "frame_index", "timestamp", "task_index", *(k for k in (p.state, p.action) if k)]
        table = read_tables(p.root / "data", columns)
        episode = table.column("episode_index").to_numpy()
        order = np.lexsort((table.column("frame_index").to_numpy(), episode))
        self.episode = episode[order]
        self.timestamp = table.column("timestamp").to_numpy().astype(np.float64)[order]
        self.frame_index = table.column("frame_index").to_numpy()[order]
        self.task_index = table.column("task_index").to_numpy()[order]
        self.vectors = {k: column_rows(table, k)[order] for k in (p.state, p.action) if k}

    def rows(self, episode: int) -> slice:
        return slice(int(np.searchsorted(self.episode, episode, "left")), int(np.searchsorted(self.episode, episode, "right")))


def _episode(p: _Plan, settings: LeRobotImportSettings, frames: _Frames, readers: dict[Path, FrameReader],
             ep: dict[str, Any]) -> Episode:
    e = ep["episode_index"]
    rows = frames.rows(e)
    source_fps = float(p.info["fps"])
    if rows.stop == rows.start:
        raise LeRobotFormatError(f"episode {e} has no frames in data/")
    chosen = resample(rows.stop - rows.start, source_fps, settings.fps)
    times = frames.timestamp[rows][chosen]
    images = {}
    for name, key in p.cameras.items():
        path = p.videos[e, key]
        reader = readers.get(path) or readers.setdefault(path, FrameReader(path))
        start, stop = ep[f"videos/{key}/from_timestamp"], ep[f"videos/{key}/to_timestamp"]
        decoded = reader.frames_between(start, stop, tolerance=0.25 / source_fps)
        if not decoded:
            raise VideoDecodeError(f"{path}: no frames between {start:.3f} s and {stop:.3f} s (episode {e}, {key})")
        stamps = np.array([t for t, _ in decoded]) - start
        nearest = np.abs(stamps[None, :] - times[:, None]).argmin(1)
        off = np.abs(stamps[nearest] - times).max()
        if off > 0.5 / source_fps:
            raise VideoDecodeError(f"{path}: episode {e} ({key}) has no frame within half a period of {off:.3f} s")
        images[name] = np.stack([square(decoded[i][1], settings.size) for i in nearest])
    sentence = p.tasks.get(int(frames.task_index[rows][0]))
    if sentence is None:
        raise LeRobotFormatError(f"episode {e}: task_index {int(frames.task_index[rows][0])} is not in meta/tasks.parquet")
    features = p.info["features"]
    state = frames.vectors[p.state][rows][chosen] if p.state else None
    action = frames.vectors[p.action][rows][chosen[:-1]] if p.action else None
    return Episode(
        task=task_name(sentence), sentence=sentence, images=images, fps=settings.fps, proprio=state, actions=action,
        env="lerobot", extras={"source_frame_index": frames.frame_index[rows][chosen].astype(np.int64)},
        info={"source_dataset": str(p.root), "source_episode": e, "source_fps": source_fps, "cameras": p.cameras,
              "state_feature": p.state, "action_feature": p.action,
              "proprio": feature_names(features[p.state]) if p.state else None,
              "actions": feature_names(features[p.action]) if p.action else None},
    )


def import_lerobot(root: Path, out: Path, settings: LeRobotImportSettings) -> Iterator[LeRobotImportResult]:
    """Import every episode of the LeRobot dataset ``root`` into our dataset ``out``; raises
    ``LeRobotFormatError`` before writing anything when the input is not usable."""
    p = plan(root, settings)
    frames = _Frames(p)
    for key in (p.state, p.action):
        if key and frames.vectors[key].ndim != 2:
            raise LeRobotFormatError(f"{key} is not a vector feature")
    prepare(out, manifest(p, settings))
    readers: dict[Path, FrameReader] = {}
    try:
        for ep in p.episodes:
            try:
                episode = _episode(p, settings, frames, readers, ep)
            except (VideoDecodeError, LeRobotFormatError) as err:
                yield LeRobotImportResult(ep["episode_index"], None, error=str(err))
                continue
            index = next_index(out, episode.task)
            episode.info["index"] = index
            path = write_episode(episode_path(out, episode.task, index), episode)
            yield LeRobotImportResult(ep["episode_index"], path, episode.num_frames)
    finally:
        for reader in readers.values():
            reader.close()
