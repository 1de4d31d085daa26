"""Fill in (or replace) the tracks of a dataset's episodes with a tracker backend.

An episode is rewritten atomically (``write_episode``) with one ``Tracks`` per camera whose
``source`` names the backend. Episodes that already have tracks for every camera are left
alone unless ``overwrite`` is set; unreadable files are reported and skipped.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from amplify_ros.data.episode import TMP_MARKER, CorruptEpisodeError, read_episode, read_summary, write_episode
from amplify_ros.tracking import PointTracker, TrackerSpec, track_video


@dataclass(frozen=True)
class TrackResult:
    path: Path
    status: str  # "tracked", "skipped" (had tracks) or "corrupt"
    frames: int = 0
    detail: str = ""


def track_episode(path: Path, tracker: PointTracker, overwrite: bool = False) -> TrackResult:
    """Track the cameras of episode ``path`` that lack tracks (all of them with ``overwrite``)."""
    try:
        summary = read_summary(path)
        cameras = [c for c in summary.cameras if overwrite or c not in summary.track_sources]
        if not cameras:
            return TrackResult(path, "skipped", summary.num_frames)
        ep = read_episode(path)
    except CorruptEpisodeError as e:
        return TrackResult(path, "corrupt", detail=str(e))
    for cam in cameras:
        ep.tracks[cam] = track_video(tracker, ep.images[cam])
    for stale in path.parent.glob(f"{path.name}{TMP_MARKER}*"):
        stale.unlink(missing_ok=True)  # left by an interrupted run on this episode
    write_episode(path, ep)
    return TrackResult(path, "tracked", ep.num_frames * len(cameras), ", ".join(cameras))


def select_shard(paths: list[Path], shard: tuple[int, int]) -> list[Path]:
    """Every N-th episode starting at i of a sorted list: machines split a corpus by episode."""
    i, n = shard
    return [p for k, p in enumerate(sorted(paths)) if k % n == i]


_TRACKER: PointTracker | None = None  # one per worker process, built once


def _init_worker(spec: TrackerSpec) -> None:
    global _TRACKER
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    _TRACKER = spec.build()


def _worker_job(path: Path, overwrite: bool) -> TrackResult:
    return track_episode(path, _TRACKER, overwrite)


def run(
    paths: list[Path], spec: TrackerSpec, tracker: PointTracker, overwrite: bool = False, workers: int = 1
) -> Iterator[TrackResult]:
    """Track ``paths``, yielding each result when its file is written. With one worker the
    given ``tracker`` does the work; more workers each build their own from ``spec``."""
    if workers <= 1:
        for path in paths:
            yield track_episode(path, tracker, overwrite)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(spec,)) as pool:
        yield from pool.map(_worker_job, paths, [overwrite] * len(paths))
