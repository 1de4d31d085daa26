"""Ordinary videos (mp4, avi, ..., or a folder of images) -> action-free episodes.

- Frames are centre-cropped to the largest square and resized to ``size`` x ``size``
  (``INTER_AREA``: an average over source pixels, no aliasing when shrinking).
- Video files are resampled to ``fps`` by taking, for output frame k (time k / fps), the
  source frame nearest in time (frames are dropped or repeated, never blended). A file that
  does not state its frame rate is taken frame by frame. An image folder has no timing: its
  images, sorted by name (numbers compared as numbers), are consecutive frames at ``fps``.
- The task name (the folder under the dataset root) is the sentence in lower case with every
  run of other characters than a-z and 0-9 replaced by one hyphen, trimmed, at most 64
  characters: "Pick up the red cup!" -> ``pick-up-the-red-cup``.
- Episodes get ``env="video"``, one camera named ``video``, no actions, no proprioception and no
  tracks (``amplify-data track`` adds them); ``info`` keeps the source file and its frame rate.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from amplify_ros.core.tracks import IMAGE_SIZE, square
from amplify_ros.data.dataset import episode_path, prepare
from amplify_ros.data.episode import SUFFIX, Episode, write_episode
from amplify_ros.data.manifest import DatasetManifest

CAMERA = "video"
DEFAULT_FPS = 20.0  # the paper's LIBERO rate: a 16-frame track window spans 0.8 s
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class VideoReadError(RuntimeError):
    """A file or folder that yields no frames."""


@dataclass(frozen=True)
class Clip:
    frames: np.ndarray  # (T, size, size, 3) uint8 RGB
    source_fps: float | None  # None for image folders and files without a frame rate


def task_name(sentence: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", sentence.lower()).strip("-")[:64].strip("-")
    if not name:
        raise ValueError(f"task sentence {sentence!r} has no letters or digits to name a folder with")
    return name


def _natural_key(path: Path) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def _read_folder(folder: Path, size: int) -> Clip:
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)
    frames = []
    for f in files:
        bgr = cv2.imread(str(f), cv2.IMREAD_COLOR)
        if bgr is None:
            raise VideoReadError(f"{f}: not a readable image")
        frames.append(square(bgr[..., ::-1], size))
    if not frames:
        raise VideoReadError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return Clip(np.stack(frames), None)


def _read_file(path: Path, size: int, fps: float) -> Clip:
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoReadError(f"{path}: OpenCV cannot open it as a video")
        rate = cap.get(cv2.CAP_PROP_FPS)
        source_fps = float(rate) if rate and np.isfinite(rate) and rate > 0 else None
        step = source_fps / fps if source_fps else 1.0  # source frames per output frame
        frames, index, wanted = [], 0, 0.0
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            while math.floor(wanted + 0.5) == index:  # the source frame nearest to output frame k
                frames.append(square(bgr[..., ::-1], size))
                wanted += step
            index += 1
    finally:
        cap.release()
    if not frames:
        raise VideoReadError(f"{path}: no frames could be decoded")
    return Clip(np.stack(frames), source_fps)


def read_clip(path: str | os.PathLike, size: int, fps: float = DEFAULT_FPS) -> Clip:
    """Frames of a video file or an image folder, square, ``size`` px, at ``fps``."""
    path = Path(path)
    if path.is_dir():
        return _read_folder(path, size)
    if not path.is_file():
        raise VideoReadError(f"{path}: no such file or folder")
    return _read_file(path, size, fps)


def next_index(root: Path, task: str) -> int:
    """The first episode index after those already in ``root/task``."""
    folder = root / task
    found = [int(m.group(1)) for p in folder.glob(f"episode_*{SUFFIX}") if (m := re.fullmatch(rf"episode_(\d+){re.escape(SUFFIX)}", p.name))]
    return max(found, default=-1) + 1


def clip_episode(clip: Clip, sentence: str, fps: float, source: Path, index: int) -> Episode:
    return Episode(
        task=task_name(sentence),
        sentence=sentence,
        images={CAMERA: clip.frames},
        fps=fps,
        env="video",
        info={"source_file": str(source), "source_fps": clip.source_fps, "index": index},
    )


def manifest(size: int, fps: float) -> DatasetManifest:
    """``dataset.yaml`` of an imported-video dataset: videos at another size or rate go elsewhere."""
    return DatasetManifest(env="video", image_size=size, fps=fps, cameras=[CAMERA], action_free=True)


@dataclass(frozen=True)
class ImportResult:
    source: Path
    path: Path | None  # the episode written, None when the source was skipped
    frames: int = 0
    error: str = ""


def import_videos(sources: list[Path], sentence: str, root: Path, fps: float = DEFAULT_FPS, size: int = IMAGE_SIZE) -> Iterator[ImportResult]:
    """Import each source as the next episode of task ``sentence`` under ``root``; a source
    that cannot be read is reported (``error``) and skipped."""
    task = task_name(sentence)
    prepare(root, manifest(size, fps))
    index = next_index(root, task)
    for source in sources:
        try:
            clip = read_clip(source, size, fps)
        except VideoReadError as e:
            yield ImportResult(source, None, error=str(e))
            continue
        path = write_episode(episode_path(root, task, index), clip_episode(clip, sentence, fps, source, index))
        index += 1
        yield ImportResult(source, path, len(clip.frames))
