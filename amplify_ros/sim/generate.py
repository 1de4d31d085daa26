"""Build a dataset of scripted-expert Meta-World episodes, resumable and shardable.

Each episode is identified by (task, index); its seed is derived from the dataset seed, the
task and the index, so any shard on any machine makes the same episode, and a rerun skips
the files that already exist.
"""

from __future__ import annotations

import multiprocessing
import os
import zlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amplify_ros.data.dataset import episode_path
from amplify_ros.sim.rollout import RolloutConfig, RolloutTiming


@dataclass(frozen=True)
class EpisodeJob:
    task: str
    index: int
    seed: int
    path: Path


@dataclass(frozen=True)
class EpisodeResult:
    job: EpisodeJob
    frames: int
    success: bool
    timing: RolloutTiming


def episode_seed(dataset_seed: int, task: str, index: int) -> int:
    """A 31-bit seed unique to (dataset seed, task, index)."""
    seq = np.random.SeedSequence([dataset_seed, zlib.crc32(task.encode()), index])
    return int(seq.generate_state(1)[0] >> 1)


def plan(
    root: Path, tasks: list[str], episodes: int, dataset_seed: int, shard: tuple[int, int] = (0, 1)
) -> list[EpisodeJob]:
    """Jobs of this shard (every N-th episode in task-major order), including finished ones."""
    i, n = shard
    jobs = []
    for k, (task, index) in enumerate((t, e) for t in tasks for e in range(episodes)):
        if k % n == i:
            jobs.append(
                EpisodeJob(task, index, episode_seed(dataset_seed, task, index), episode_path(root, task, index))
            )
    return jobs


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' with 0 <= i < N."""
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard must look like i/N (e.g. 0/4), got {text!r}") from None
    if not 0 <= i < n:
        raise ValueError(f"--shard {text}: need 0 <= i < N")
    return i, n


# One simulator per worker process, reused while consecutive jobs share a task: creating the
# GL context and MuJoCo model costs about a second.
_SIM = None


def _run_job(job: EpisodeJob, image_size: int, cameras: tuple[str, ...], cfg: RolloutConfig) -> EpisodeResult:
    global _SIM
    from amplify_ros.data.episode import write_episode
    from amplify_ros.sim.metaworld_env import MetaWorldTask
    from amplify_ros.sim.rollout import record_episode

    if _SIM is None or _SIM.task != job.task:
        if _SIM is not None:
            _SIM.close()
        _SIM = MetaWorldTask(job.task, image_size, cameras)
    episode, timing = record_episode(_SIM, job.seed, cfg)
    episode.info["index"] = job.index
    for stale in job.path.parent.glob(f"{job.path.name}.tmp-*"):
        stale.unlink(missing_ok=True)  # left by an interrupted run of this same episode
    write_episode(job.path, episode)
    return EpisodeResult(job, episode.num_frames, bool(episode.success), timing)


def _init_worker() -> None:
    # Software OpenGL otherwise starts a render thread per core in every worker process.
    os.environ.setdefault("LP_NUM_THREADS", "1")


def run(
    jobs: list[EpisodeJob], image_size: int, cameras: tuple[str, ...], cfg: RolloutConfig, workers: int = 1
) -> Iterator[EpisodeResult]:
    """Make the episodes of ``jobs``, yielding each result once its file is written."""
    if workers <= 1:
        for job in jobs:
            yield _run_job(job, image_size, cameras, cfg)
        return
    ctx = multiprocessing.get_context("spawn")  # fresh processes: no GL context inherited by fork
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker) as pool:
        futures = [pool.submit(_run_job, job, image_size, cameras, cfg) for job in jobs]
        try:
            for fut in as_completed(futures):
                yield fut.result()
        finally:
            for fut in futures:
                fut.cancel()
