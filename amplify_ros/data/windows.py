"""Training samples cut from episodes: one per (episode, frame), held in memory.

A sample is the image(s) at frame t, the track window that starts at t (positions clipped to
the image, as the paper does), its visibility, the task sentence and, for episodes with
actions, the proprioception at t and the action chunk that follows (zero-padded past the end,
with a mask). The whole dataset is loaded once: at 128 px a frame with its tracks is ~100 kB,
so 25k samples fit in ~2.5 GB.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from amplify_ros.data.dataset import list_episodes
from amplify_ros.data.episode import CorruptEpisodeError, read_episode


@dataclass
class Split:
    """Episode paths (relative to the dataset root) of each part of a dataset."""

    train: list[str]
    val: list[str]
    heldout_tasks: list[str]  # episodes of tasks held out entirely

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.__dict__, indent=1))

    @classmethod
    def load(cls, path: Path) -> "Split":
        return cls(**json.loads(path.read_text()))


def split_episodes(root: Path, val_fraction: float, seed: int, holdout_tasks: list[str] = (),
                   train_per_task: int | None = None) -> Split:
    """Deterministic split by episode: for each task, a ``val_fraction`` of its episodes (at least
    one when it has two or more) goes to validation; tasks in ``holdout_tasks`` go aside whole;
    ``train_per_task`` caps the training episodes of each task (low-data experiments)."""
    by_task: dict[str, list[str]] = {}
    for p in list_episodes(root):
        rel = str(p.relative_to(root))
        by_task.setdefault(p.parent.name, []).append(rel)
    train, val, held = [], [], []
    rng = random.Random(seed)
    for task in sorted(by_task):
        eps = sorted(by_task[task])
        if task in holdout_tasks:
            held += eps
            continue
        rng.shuffle(eps)
        k = int(round(len(eps) * val_fraction))
        k = max(k, 1) if len(eps) > 1 and val_fraction > 0 else k
        val += sorted(eps[:k])
        train += sorted(eps[k:][:train_per_task])
    return Split(train, val, held)


class WindowDataset(torch.utils.data.Dataset):
    def __init__(
        self,
        root: Path,
        episodes: list[str],
        cameras: list[str] | None = None,
        require_actions: bool = False,
        action_horizon: int = 16,
        progress: bool = True,
    ) -> None:
        self.root = Path(root)
        self.action_horizon = action_horizon
        self.episodes: list[dict] = []
        self.cameras: list[str] = list(cameras or [])
        self.skipped_without_actions = 0
        self.skipped_corrupt: list[str] = []  # unreadable episode files, reported and left out
        for rel in tqdm(episodes, desc="loading episodes", unit="ep", disable=not progress):
            try:
                ep = read_episode(self.root / rel)
            except CorruptEpisodeError as e:
                self.skipped_corrupt.append(rel)
                tqdm.write(f"skipped {e}", file=sys.stderr)
                continue
            if require_actions and ep.actions is None:
                self.skipped_without_actions += 1
                continue
            cams = cameras or ep.cameras
            self.cameras = self.cameras or list(cams)
            missing = [c for c in cams if c not in ep.tracks]
            if missing and not require_actions:
                raise ValueError(f"{rel} has no tracks for {missing}: run `amplify-data track` first")
            item = {
                "task": ep.task,
                "sentence": ep.sentence,
                "fps": ep.fps,
                "images": np.stack([ep.images[c] for c in cams], axis=1),  # (T, V, H, W, 3)
                "proprio": ep.proprio,
                "actions": ep.actions,
            }
            if not missing:
                item["tracks"] = np.stack([np.clip(ep.tracks[c].points, -1, 1) for c in cams], axis=1)  # (T, V, S, N, 2)
                item["visible"] = np.stack([ep.tracks[c].visible for c in cams], axis=1)
            self.episodes.append(item)
        # with actions, the last frame has no action after it: no sample there
        last = 1 if require_actions else 0
        self.index = [(e, t) for e, item in enumerate(self.episodes) for t in range(len(item["images"]) - last)]

    @property
    def sentences(self) -> list[str]:
        return sorted({e["sentence"] for e in self.episodes})

    @property
    def image_size(self) -> int:
        return int(self.episodes[0]["images"].shape[2]) if self.episodes else 0

    @property
    def views(self) -> int:
        return int(self.episodes[0]["images"].shape[1]) if self.episodes else 0

    @property
    def fps(self) -> float:
        """Frames per second of the episodes; a policy must act at this rate. Mixed rates are
        refused: a window of 16 frames would mean different durations."""
        rates = {float(e["fps"]) for e in self.episodes}
        if len(rates) > 1:
            raise ValueError(f"{self.root}: episodes recorded at different rates {sorted(rates)}; train on one rate")
        return rates.pop() if rates else 0.0

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict:
        e, t = self.index[i]
        ep = self.episodes[e]
        sample = {"index": i, "images": torch.from_numpy(ep["images"][t]), "sentence": ep["sentence"], "task": ep["task"]}
        if "tracks" in ep:
            sample["tracks"] = torch.from_numpy(ep["tracks"][t])
            sample["visible"] = torch.from_numpy(ep["visible"][t])
        if ep["actions"] is not None:
            chunk = ep["actions"][t : t + self.action_horizon]
            pad = self.action_horizon - len(chunk)
            sample["actions"] = torch.from_numpy(np.concatenate([chunk, np.zeros((pad, chunk.shape[1]), chunk.dtype)]))
            sample["action_mask"] = torch.arange(self.action_horizon) < len(chunk)
            sample["proprio"] = torch.from_numpy(ep["proprio"][t])
        return sample
