"""Our dataset folder -> a LeRobotDataset v3.0 folder (layout in ``lerobot_format``).

What maps to what:

- camera ``<cam>`` -> video feature ``observation.images.<cam>`` (mp4, ``lerobot_video``)
- ``proprio`` (T, P) -> ``observation.state`` float32 (P,), names from ``info["proprio"]``
- ``actions`` (T-1, A) -> ``action`` float32 (A,), names from ``info["actions"]``. LeRobot has an
  action on every frame; ours has none after the last frame, so the last frame repeats the
  action before it (the importer drops it again, so a round trip is exact).
- ``sentence`` -> the task (``meta/tasks.parquet``), ``fps`` -> info.json's integer fps.
- Not exported: tracks (LeRobot has no such feature; ``amplify-data track`` remakes them after
  import), ``extras``, ``success``, ``seed`` and ``info``.

All episodes must agree on cameras, image size, fps and which of proprio and actions they have
(and their widths). The folder is written under a temporary name beside ``out`` and renamed
into place at the end, so ``out`` is either complete or absent.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from amplify_ros.data.dataset import list_episodes
from amplify_ros.data.episode import CorruptEpisodeError, Episode, read_episode, read_summary
from amplify_ros.data.lerobot_format import (
    DATA_FILE_MB, DATA_PATH, EPISODES_PATH, INDEX_FEATURES, INFO_PATH, STATS_PATH, TASKS_PATH, VIDEO_FILE_MB,
    VIDEO_PATH, LeRobotFormatError, aggregate_stats, feature_stats, make_info, next_file, stats_json, vector_column,
    vector_feature, video_feature, write_tasks,
)
from amplify_ros.data.lerobot_video import DEFAULT_CODEC, PIX_FMT, VideoWriter, codec_name

CAMERA_PREFIX = "observation.images."
STATE, ACTION = "observation.state", "action"


@dataclass
class ExportResult:
    out: Path
    episodes: int = 0
    frames: int = 0
    codec: str = ""
    skipped: dict[str, str] = field(default_factory=dict)  # episode file -> why


def camera_key(camera: str) -> str:
    return CAMERA_PREFIX + camera


def lerobot_actions(ep: Episode) -> np.ndarray:
    """(T, A): our T-1 actions, the last repeated for the last frame."""
    a = np.asarray(ep.actions, np.float32)
    last = a[-1:] if len(a) else np.zeros((1, a.shape[1]), np.float32)
    return np.concatenate([a, last])


def _plan(root: Path) -> tuple[list[Path], dict[str, str]]:
    """Readable episode files and the unreadable ones (with why); checks the episodes agree."""
    paths, skipped, first = [], {}, None
    for path in list_episodes(root):
        try:
            s = read_summary(path)
        except CorruptEpisodeError as e:
            skipped[str(path)] = str(e)
            continue
        key = (tuple(s.cameras), s.image_size, s.fps, s.has_actions)
        if first is None:
            first = (key, path)
        elif key != first[0]:
            raise LeRobotFormatError(f"{path} does not match {first[1]} (cameras, image size, fps, actions: {key} vs "
                                     f"{first[0]}): export such episodes to separate LeRobot datasets")
        paths.append(path)
    if not paths:
        raise LeRobotFormatError(f"{root}: no readable episodes" + (f" ({len(skipped)} unreadable)" if skipped else ""))
    fps = first[0][2]
    if abs(fps - round(fps)) > 1e-6 or round(fps) < 1:
        raise LeRobotFormatError(f"{root}: fps {fps:g} is not a whole number, which LeRobot needs: "
                                 "re-import at a whole rate (import-bag --rate, import-video --fps)")
    return paths, skipped


class _Writer:
    """Accumulates frames and episodes; writes data files and videos as they fill up."""

    def __init__(self, tmp: Path, fps: int, cameras: list[str], codec: str, crf: int) -> None:
        self.tmp, self.fps, self.cameras, self.codec, self.crf = tmp, fps, cameras, codec, crf
        self.tasks: dict[str, int] = {}
        self.rows: list[dict[str, np.ndarray]] = []  # the current data file's episodes
        self.data_file = (0, 0)
        self.video_file = {c: (0, 0) for c in cameras}
        self.videos: dict[str, VideoWriter] = {}
        self.episodes: list[dict] = []
        self.stats: list[dict[str, dict[str, np.ndarray]]] = []
        self.frames = 0
        self.widths: dict[str, int] = {}
        self.sizes: dict[str, tuple[int, int]] = {}

    def _video(self, cam: str, height: int, width: int) -> VideoWriter:
        writer = self.videos.get(cam)
        if writer is not None and writer.path.stat().st_size >= VIDEO_FILE_MB * 2**20:
            writer.close()
            self.video_file[cam] = next_file(*self.video_file[cam])
            writer = None
        if writer is None:
            chunk, file = self.video_file[cam]
            path = self.tmp / VIDEO_PATH.format(video_key=camera_key(cam), chunk_index=chunk, file_index=file)
            writer = self.videos[cam] = VideoWriter(path, self.fps, height, width, self.codec, self.crf)
        return writer

    def _check_width(self, name: str, rows: np.ndarray, path: Path) -> None:
        width = self.widths.setdefault(name, rows.shape[1])
        if rows.shape[1] != width:
            raise LeRobotFormatError(f"{path}: {name} has {rows.shape[1]} columns, earlier episodes {width}")

    def add(self, ep: Episode, path: Path) -> None:
        index = len(self.episodes)
        t = ep.num_frames
        task_index = self.tasks.setdefault(ep.sentence, len(self.tasks))
        row = {
            "timestamp": (np.arange(t) / self.fps).astype(np.float32), "frame_index": np.arange(t),
            "episode_index": np.full(t, index), "index": self.frames + np.arange(t), "task_index": np.full(t, task_index),
        }
        if ep.proprio is not None:
            row[STATE] = np.asarray(ep.proprio, np.float32).reshape(t, -1)
            self._check_width(STATE, row[STATE], path)
        if ep.actions is not None:
            row[ACTION] = lerobot_actions(ep)
            self._check_width(ACTION, row[ACTION], path)
        meta = {"episode_index": index, "tasks": [ep.sentence], "length": t}
        stats = {k: feature_stats(v.reshape(t, -1)) for k, v in row.items()}
        for cam in self.cameras:
            images = ep.images[cam]
            if self.sizes.setdefault(cam, images.shape[1:3]) != images.shape[1:3]:
                raise LeRobotFormatError(f"{path}: {cam} images are {images.shape[1:3]}, earlier episodes' {self.sizes[cam]}")
            writer = self._video(cam, *images.shape[1:3])
            start = writer.frames
            for frame in images:
                writer.write(frame)
            chunk, file = self.video_file[cam]
            key = camera_key(cam)
            meta.update({f"videos/{key}/chunk_index": chunk, f"videos/{key}/file_index": file,
                         f"videos/{key}/from_timestamp": start / self.fps, f"videos/{key}/to_timestamp": writer.frames / self.fps})
            stats[key] = feature_stats(images, image=True)
        if self.rows and sum(v.nbytes for r in self.rows for v in r.values()) >= DATA_FILE_MB * 2**20:
            self._flush_data()
            self.data_file = next_file(*self.data_file)
        self.rows.append(row)
        meta.update({"data/chunk_index": self.data_file[0], "data/file_index": self.data_file[1],
                     "dataset_from_index": self.frames, "dataset_to_index": self.frames + t})
        self.episodes.append(meta)
        self.stats.append(stats)
        self.frames += t

    def _flush_data(self) -> None:
        columns = {}
        for name in self.rows[0]:
            values = np.concatenate([r[name] for r in self.rows])
            columns[name] = vector_column(values) if values.ndim == 2 else pa.array(values)
        order = [k for k in (STATE, ACTION) if k in columns] + list(INDEX_FEATURES)
        path = self.tmp / DATA_PATH.format(chunk_index=self.data_file[0], file_index=self.data_file[1])
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table({k: columns[k] for k in order}), path, compression="snappy")
        self.rows = []

    def finish(self, names: dict[str, list[str] | None]) -> int:
        """Writes the last data file, closes videos, writes meta/; returns the frame count."""
        self._flush_data()
        codecs = {}
        for cam, writer in self.videos.items():
            writer.close()
            codecs[cam] = codec_name(writer.path)
        features = {camera_key(c): video_feature(*self.sizes[c], self.fps, codecs[c], PIX_FMT) for c in self.cameras}
        for key in (STATE, ACTION):
            if key in self.widths:
                features[key] = vector_feature(self.widths[key], names.get(key))
        features.update(json.loads(json.dumps(INDEX_FEATURES)))
        per_feature = {k: aggregate_stats([s[k] for s in self.stats]) for k in self.stats[0]}
        self._write_episodes()
        write_tasks(self.tmp / TASKS_PATH, list(self.tasks))
        info = make_info(self.fps, features, len(self.episodes), self.frames, len(self.tasks), robot_type=None)
        (self.tmp / INFO_PATH).write_text(json.dumps(info, indent=4))
        (self.tmp / STATS_PATH).write_text(json.dumps(stats_json(per_feature), indent=4))
        return self.frames

    def _write_episodes(self) -> None:
        rows = []
        for meta, stats in zip(self.episodes, self.stats):
            row = {**meta, "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0}
            row.update({f"stats/{feat}/{k}": v.tolist() for feat, s in stats.items() for k, v in s.items()})
            rows.append(row)
        path = self.tmp / EPISODES_PATH.format(chunk_index=0, file_index=0)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows), path)


def export_lerobot(root: Path, out: Path, codec: str = DEFAULT_CODEC, crf: int = 23,
                   progress: Callable[[Path, int], None] | None = None) -> ExportResult:
    """Export every readable episode under ``root`` to a new LeRobot dataset at ``out``."""
    if not root.is_dir():
        raise LeRobotFormatError(f"{root} is not a folder")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise LeRobotFormatError(f"{out} already exists and is not empty: choose a new --out")
    paths, skipped = _plan(root)
    first = read_summary(paths[0])
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        writer = _Writer(tmp, round(first.fps), first.cameras, codec, crf)
        names: dict[str, list[str] | None] = {}
        for path in paths:
            try:
                ep = read_episode(path)
            except CorruptEpisodeError as e:  # damaged past what read_summary looks at
                skipped[str(path)] = str(e)
                continue
            for key, info_key in ((STATE, "proprio"), (ACTION, "actions")):
                if isinstance(ep.info.get(info_key), list):
                    names.setdefault(key, [str(n) for n in ep.info[info_key]])
            writer.add(ep, path)
            if progress:
                progress(path, ep.num_frames)
        if not writer.episodes:
            raise LeRobotFormatError(f"{root}: no readable episodes ({len(skipped)} unreadable)")
        frames = writer.finish(names)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return ExportResult(out, len(writer.episodes), frames, codec, skipped)
